/** What the Node entry points of the benchmarks share: flags, result files, exit codes. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseFlags, usage, type FlagSpec, type ParsedFlags } from '../apps/shared/args.ts';
import { describeError, InputError } from '../src/index.ts';
import type { KernelFlags } from './kernels.ts';
import { engineTunings, variantOf } from './tunings.ts';
import { givesOptimizerFlags, OPTIMIZER_FLAGS, optimizerFromFlags, scheduleFromFlags } from '../apps/shared/optimizer-flags.ts';
import { DEFAULT_EPOCHS, type WorkloadOptions } from './workload.ts';

export const RESULTS_DIR = 'bench/results';

/** The training workload's flags, the same for the Chrome and the Node bench. */
export const WORKLOAD_FLAGS: Record<string, FlagSpec> = {
  data: { type: 'string', placeholder: 'DIR', help: 'MNIST directory (default: $MNIST_DIR, then data/mnist)' },
  epochs: { type: 'int', placeholder: 'N', help: `epochs to train (default ${DEFAULT_EPOCHS})` },
  'max-steps': { type: 'int', placeholder: 'K', help: 'stop after K optimizer steps in all' },
  'batch-size': { type: 'int', placeholder: 'B', help: 'batch size (default 64)' },
  'train-subset': { type: 'int', placeholder: 'N', help: 'train on the first N training samples only (smoke runs)' },
  'test-subset': { type: 'int', placeholder: 'N', help: 'evaluate on the first N test samples only (smoke runs)' },
  'steps-per-submit': { type: 'int', placeholder: 'N', help: 'optimizer steps per command buffer (default 64; 8 on fallback adapters)' },
  'max-in-flight': {
    type: 'int',
    placeholder: 'N',
    help: 'command buffers in flight before the CPU waits (default 3; 2 on fallback adapters)',
  },
  seed: { type: 'int', placeholder: 'N', help: 'seed of the initial weights and of the shuffle (default 1)' },
  'unfused-update': { type: 'bool', help: 'the optimizer as its own pass instead of fused into the weight-gradient kernels' },
  'fused-update': {
    type: 'bool',
    help: "the optimizer fused into the weight-gradient kernels even where the adapter's tuning runs it as a pass (SwiftShader)",
  },
  matmul: {
    type: 'string',
    placeholder: 'VARIANT',
    help: `matmul variant instead of the trainer's choice for the adapter (this engine has: ${engineTunings().map(variantOf).join(', ')})`,
  },
  ...OPTIMIZER_FLAGS,
};

/** Where the result goes; every bench takes these. */
export const OUTPUT_FLAGS: Record<string, FlagSpec> = {
  out: { type: 'string', placeholder: 'FILE', help: `write the JSON here (default ${RESULTS_DIR}/<time>-<runtime>.json)` },
  'json-only': { type: 'bool', help: 'print only the JSON document on stdout (progress stays on stderr)' },
  help: { type: 'bool', help: 'show this help' },
};

function positive(flags: ParsedFlags, name: string): number | undefined {
  const v = flags[name] as number | undefined;
  if (v !== undefined && v < 1) throw new InputError(`--${name} must be a positive integer, got ${v}`);
  return v;
}

/** A matmul variant the engine has (tunings.ts), else an InputError that lists them. */
function knownVariant(flag: string, given: string, allowAll: boolean): string {
  const names = engineTunings().map(variantOf);
  if (names.includes(given) || (allowAll && given === 'all')) return given;
  throw new InputError(`--${flag} must be ${[...names, ...(allowAll ? ['all'] : [])].join(', ')}; got '${given}'`);
}

export function workloadOptions(flags: ParsedFlags): WorkloadOptions {
  const epochs = (flags.epochs as number | undefined) ?? DEFAULT_EPOCHS;
  if (epochs < 1) throw new InputError(`--epochs must be a positive integer, got ${epochs}`);
  const o: { -readonly [K in keyof WorkloadOptions]: WorkloadOptions[K] } = { epochs };
  const set = <K extends keyof WorkloadOptions>(key: K, value: WorkloadOptions[K] | undefined) => {
    if (value !== undefined) o[key] = value;
  };
  set('maxSteps', positive(flags, 'max-steps'));
  set('batchSize', positive(flags, 'batch-size'));
  set('trainSubset', positive(flags, 'train-subset'));
  set('testSubset', positive(flags, 'test-subset'));
  set('stepsPerSubmit', positive(flags, 'steps-per-submit'));
  set('maxInFlight', positive(flags, 'max-in-flight'));
  set('seed', flags.seed as number | undefined);
  if (flags['unfused-update'] && flags['fused-update'])
    throw new InputError('--fused-update and --unfused-update contradict each other: give one');
  if (flags['unfused-update']) o.fusedUpdate = false;
  if (flags['fused-update']) o.fusedUpdate = true;
  if (flags.matmul !== undefined) o.variant = knownVariant('matmul', flags.matmul as string, false);
  if (givesOptimizerFlags(flags)) {
    o.optimizer = optimizerFromFlags(flags);
    o.schedule = scheduleFromFlags(flags, epochs);
  }
  return o;
}

/** The kernel benchmark's flags (bench-kernels, and bench-browser --kernels). */
export const KERNEL_FLAGS: Record<string, FlagSpec> = {
  large: {
    type: 'int',
    placeholder: 'N',
    help: 'edge of the large square matmul, N³ (default 4096; 1024 on fallback adapters; 0 skips it)',
  },
  'batch-size': { type: 'int', placeholder: 'B', help: 'batch size: rows of the MLP-shape kernels (default 64)' },
  only: { type: 'string', placeholder: 'TEXT', help: 'only the kernels whose name contains TEXT (e.g. forward, l1)' },
  'no-timestamps': { type: 'bool', help: 'time by wall clock even where the device has timestamp queries' },
  'pass-ms': { type: 'number', placeholder: 'MS', help: 'aim for timed passes this long (default 100 on fallback adapters, else 20)' },
  samples: { type: 'int', placeholder: 'N', help: 'timed passes per kernel, at most (default 9)' },
  'case-seconds': {
    type: 'number',
    placeholder: 'S',
    help: 'stop adding passes after this long per kernel, 3 passes at least (default 1.5 on fallback adapters, else 0.5)',
  },
  variant: {
    type: 'string',
    placeholder: 'VARIANT',
    help: `matmul variant to time, or all (default all: ${engineTunings().map(variantOf).join(', ')}; the trainer's choice first)`,
  },
  'no-replay': { type: 'bool', help: 'skip replaying whole training steps back to back' },
};

export function kernelFlags(flags: ParsedFlags): KernelFlags {
  const out: { -readonly [K in keyof KernelFlags]: KernelFlags[K] } = {};
  const number = (name: string, min: number, inclusive: boolean) => {
    const v = flags[name] as number | undefined;
    if (v !== undefined && !(inclusive ? v >= min : v > min)) {
      throw new InputError(`--${name} must be ${inclusive ? 'at least' : 'more than'} ${min}, got ${v}`);
    }
    return v;
  };
  const large = number('large', 0, true);
  const batchSize = number('batch-size', 0, false);
  const passMs = number('pass-ms', 0, false);
  const samples = number('samples', 0, false);
  const caseSeconds = number('case-seconds', 0, false);
  if (large !== undefined) out.large = large;
  if (batchSize !== undefined) out.batchSize = batchSize;
  if (passMs !== undefined) out.passSeconds = passMs / 1000;
  if (samples !== undefined) out.samples = samples;
  if (caseSeconds !== undefined) out.caseSeconds = caseSeconds;
  if (flags.only !== undefined) out.only = flags.only as string;
  if (flags['no-timestamps']) out.timestamps = false;
  if (flags['no-replay']) out.replay = false;
  if (flags.variant !== undefined) out.variant = knownVariant('variant', flags.variant as string, true);
  return out;
}

export { parseFlags, usage };

/** `2026-11-26T17-31-45`: sortable, and valid in a file name everywhere. */
export function timeStamp(date = new Date()): string {
  return date.toISOString().slice(0, 19).replace(/:/g, '-');
}

/** Writes `doc` as JSON to `out`, or to bench/results/<time>-<suffix>.json; returns the path. */
export async function writeResult(doc: unknown, suffix: string, out?: string): Promise<string> {
  const path = out ?? join(RESULTS_DIR, `${timeStamp()}-${suffix}.json`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}

/** The `webgpu` package's version (Dawn for Node), read beside the bundle; '?' when it cannot be found. */
export function webgpuVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('webgpu/package.json') as { version: string }).version;
  } catch {
    return '?';
  }
}

/** The repository's HEAD when the bench ran (`+`: src/ or shaders/ differ from it); the bundle may be older. '?' without git (the GPU machine). */
export function engineCommit(): string {
  try {
    const git = (args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src', 'shaders']) ? '+' : ''}`;
  } catch {
    return '?';
  }
}

export function hostEnvironment(): Record<string, string | number> {
  const cpu = cpus();
  // The 1-minute load average when the run started: other work on a shared CPU skews software-adapter figures.
  return {
    cpus: cpu.length,
    cpu: cpu[0]?.model.trim() ?? '?',
    platform: `${process.platform}-${process.arch}`,
    loadAverage: Number(loadavg()[0]!.toFixed(2)),
    gitHead: engineCommit(),
  };
}

/** How this process was started, for the record: `node dist/node/bench-node.mjs --epochs 1`. */
export function commandLine(): string {
  const script = process.argv[1] ?? '';
  const rel = script.startsWith(process.cwd()) ? script.slice(process.cwd().length + 1) : script;
  return ['node', rel, ...process.argv.slice(2)].join(' ');
}

export const info = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Runs `main`; a thrown error becomes one `error: …` line and exit status 2 (bad input) or 1. */
export function runMain(main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`error: ${describeError(error)}\n`);
      process.exit(error instanceof InputError ? 2 : 1);
    },
  );
}
