/**
 * The page's handle on the engine's worker: `call()` sends a command and resolves with its reply
 * (or rejects with the worker's error, its class name kept: `DivergenceError`, `DeviceLostError`,
 * `InputError`, …); `onNote` receives what the worker sends unasked.
 */
import type { Command, FromWorker, Note, Results, WireError } from './protocol.ts';

/** An error from the worker, named as the engine named it. */
export class WorkerError extends Error {
  readonly lastGoodStep: number | undefined;
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
    this.lastGoodStep = wire.lastGoodStep;
  }
}

/** The objects whose memory moves to the worker with the message (weights, drawings) rather than being copied. */
function transferables(c: Command): Transferable[] {
  switch (c.type) {
    case 'create':
      return c.init ? [c.init.bytes.buffer] : [];
    case 'load-weights':
      return [c.bytes.buffer];
    case 'predict':
      return [c.pixels.buffer];
    default:
      return [];
  }
}

export class Engine {
  private readonly worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'engine' });
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private next = 1;
  onNote: (note: Note) => void = () => {};

  constructor() {
    this.worker.addEventListener('message', (event: MessageEvent<FromWorker>) => {
      const m = event.data;
      if (m.type !== 'reply') {
        this.onNote(m);
        return;
      }
      const waiting = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) waiting?.resolve(m.value);
      else waiting?.reject(new WorkerError(m.error));
    });
    this.worker.addEventListener('error', (event) => {
      const error = new Error(`the engine's worker failed: ${event.message || 'it could not start'}`);
      for (const w of this.pending.values()) w.reject(error);
      this.pending.clear();
    });
  }

  call<C extends Command>(command: C): Promise<Results[C['type']]> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...command, id }, transferables(command));
    });
  }
}
