/**
 * Ctrl-C keeps the work: the first SIGINT or SIGTERM during training aborts `signal`, which pauses
 * the trainer after the steps in flight, so the CLI can write a checkpoint of exactly that point
 * and the weights, then exit 130 (SIGINT) or 143 (SIGTERM). Outside training (loading, set-up) and
 * on a second signal it exits at once with that code, writing nothing.
 */
const CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type Name = keyof typeof CODES;

export class Interrupts {
  private readonly controller = new AbortController();
  private received: Name | undefined;
  private training = false;
  private readonly handlers = new Map<Name, () => void>();

  constructor(private readonly say: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {
    for (const name of Object.keys(CODES) as Name[]) {
      const handler = () => this.receive(name);
      this.handlers.set(name, handler);
      process.on(name, handler);
    }
  }

  /** Aborted at the first signal while training. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The exit code of the signal received (130 / 143), or undefined. */
  get exitCode(): number | undefined {
    return this.received && CODES[this.received];
  }

  /** From here on a first signal pauses training instead of exiting. */
  trainingStarts(): void {
    this.training = true;
  }

  private receive(name: Name): void {
    if (this.received || !this.training) {
      // A second signal, or nothing to keep yet: quit now, touching no file.
      process.stderr.write(`\n${name}: exiting at once\n`);
      process.exit(CODES[this.received ?? name]);
    }
    this.received = name;
    this.say(`\n${name}: stopping after the steps in flight (again to quit at once, losing them)`);
    this.controller.abort();
  }

  dispose(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler);
  }
}
