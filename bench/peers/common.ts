/**
 * What the `npm run bench:peers` runners share: the workload's constants, the child-process
 * protocol (flags in, one result line out), reading the first training samples of MNIST, and the
 * initial weights as one safetensors file. The peers' runners (tfjs.ts, jax.ts) import only this
 * and their library, never the engine, so nothing of ours runs inside their measurements; the
 * engine's runner uses this for its flags and result line only.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** The seed program's MLP, optimizer and batch: the one workload every runner trains. */
export const WORKLOAD = {
  layers: [784, 512, 256, 128, 64, 10],
  batchSize: 64,
  lr: 0.01,
  momentum: 0.5,
  /** torchvision's MNIST normalization: (x/255 − mean)/std */
  mean: 0.1307,
  std: 0.3081,
} as const;

export const DENSE_LAYERS = WORKLOAD.layers.length - 1;

/** The line a runner prints on stdout before its JSON result, so log lines from a library never confuse the parent. */
export const RESULT_PREFIX = 'PEERS-RESULT ';

export interface RunnerArgs {
  /** optimizer steps to time */
  readonly steps: number;
  /** steps trained first on a throwaway copy of the state, to compile and warm up; then training restarts from the init */
  readonly warmupSteps: number;
  readonly init: string;
  readonly data: string;
}

export interface RunnerResult {
  readonly library: string;
  readonly version: string;
  /** the WebGPU adapter it ran on, as the library's device reports it */
  readonly adapter: string;
  readonly steps: number;
  readonly warmupSteps: number;
  /** creating the device and backend */
  readonly startSeconds: number;
  /** uploading the training samples (and labels) and the initial weights */
  readonly uploadSeconds: number;
  /** the warm-up steps, compilation included, and restoring the initial state */
  readonly warmupSeconds: number;
  /** the timed loop: `steps` steps from the first submit until the last step's loss was read back */
  readonly trainSeconds: number;
  /**
   * CPU time the process spent in the timed loop (user + system, all its threads). On a software
   * adapter the "GPU" is this process's own threads, so this is the work itself, and it barely
   * changes when other programs load the machine, where the wall time does.
   */
  readonly trainCpuSeconds: number;
  /** every timed step's loss (mean cross-entropy over its batch), in order */
  readonly losses: number[];
  readonly notes: string[];
}

/** Parses the flags the parent passes to every runner (`--steps N --warmup N --init FILE --data DIR`). */
export function runnerArgs(argv: readonly string[]): RunnerArgs {
  const value = (name: string): string => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? argv[i + 1] : undefined;
    if (v === undefined) throw new Error(`runner: --${name} is required`);
    return v;
  };
  const count = (name: string, min: number): number => {
    const n = Number(value(name));
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`runner: --${name} must be an integer ≥ ${min}`);
    return n;
  };
  return { steps: count('steps', 1), warmupSteps: count('warmup', 0), init: value('init'), data: value('data') };
}

/** Runs a runner's main: prints its result line, or the error on stderr with exit status 1. */
export function runRunner(main: (args: RunnerArgs) => Promise<RunnerResult>): void {
  main(runnerArgs(process.argv.slice(2))).then(
    (result) => {
      process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}

/** Seconds since `start` (a performance.now() value). */
export const since = (start: number): number => (performance.now() - start) / 1000;

/** The process's CPU time so far (user + system, every thread), in seconds. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// MNIST: the first `count` training samples, in file order.

function readIdx(dir: string, base: string): Uint8Array {
  for (const [name, unzip] of [
    [`${base}.gz`, true],
    [base, false],
  ] as const) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(dir, name));
    } catch {
      continue;
    }
    return new Uint8Array(unzip ? gunzipSync(bytes) : bytes);
  }
  throw new Error(`${join(dir, base)}(.gz): not found (set --data or $MNIST_DIR)`);
}

export interface TrainingPrefix {
  /** count × 784 bytes, 0..255 */
  readonly images: Uint8Array;
  /** count labels, 0..9 */
  readonly labels: Uint8Array;
  readonly count: number;
}

/** The first `count` samples of MNIST's training set: the batches are these, in order, 64 at a time. */
export function loadTrainingPrefix(dir: string, count: number): TrainingPrefix {
  const images = readIdx(dir, 'train-images-idx3-ubyte');
  const labels = readIdx(dir, 'train-labels-idx1-ubyte');
  const view = new DataView(images.buffer, images.byteOffset);
  const total = view.getUint32(4);
  const features = view.getUint32(8) * view.getUint32(12);
  if (view.getUint32(0) !== 0x803 || features !== WORKLOAD.layers[0]) throw new Error('train-images: not MNIST images');
  if (count > total) throw new Error(`the workload needs ${count} training samples, the file has ${total}`);
  return { images: images.slice(16, 16 + count * features), labels: labels.slice(8, 8 + count), count };
}

/** (x/255 − mean)/std with every operation rounded to float32, as torchvision's ToTensor + Normalize and the engine's gather kernel compute it. */
export function normalized(images: Uint8Array): Float32Array {
  const out = new Float32Array(images.length);
  const f = Math.fround;
  const mean = f(WORKLOAD.mean);
  const std = f(WORKLOAD.std);
  for (let i = 0; i < images.length; i++) out[i] = f(f(images[i]! / 255) - mean) / std;
  return out;
}

/** Labels as one-hot float32 rows (count × classes). */
export function oneHot(labels: Uint8Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) out[i * classes + labels[i]!] = 1;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Initial weights: one safetensors file with PyTorch's names and shapes (l1.weight [out, in], l1.bias [out], …).

export interface DenseInit {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** [out, in], row-major, as PyTorch's nn.Linear keeps it */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

/** A small seeded generator (mulberry32): the init must be reproducible, not good randomness. */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** PyTorch's default nn.Linear init (weights and biases U(±1/√fan_in)), drawn from `seed`. */
export function initialWeights(seed: number): DenseInit[] {
  const next = uniform(seed);
  const layers: DenseInit[] = [];
  for (let l = 0; l < DENSE_LAYERS; l++) {
    const inFeatures = WORKLOAD.layers[l]!;
    const outFeatures = WORKLOAD.layers[l + 1]!;
    const bound = 1 / Math.sqrt(inFeatures);
    const draw = (n: number) => Float32Array.from({ length: n }, () => (next() * 2 - 1) * bound);
    layers.push({ inFeatures, outFeatures, weight: draw(inFeatures * outFeatures), bias: draw(outFeatures) });
  }
  return layers;
}

/** The init as safetensors bytes (F32, little-endian), tensors in the seed program's order. */
export function encodeInit(layers: readonly DenseInit[]): Uint8Array {
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = {};
  const parts: Float32Array[] = [];
  let offset = 0;
  layers.forEach((d, i) => {
    for (const [name, data, shape] of [
      [`l${i + 1}.weight`, d.weight, [d.outFeatures, d.inFeatures]],
      [`l${i + 1}.bias`, d.bias, [d.outFeatures]],
    ] as const) {
      header[name] = { dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + data.byteLength] };
      parts.push(data);
      offset += data.byteLength;
    }
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
}

/** Reads the init file the parent wrote (F32 tensors l1.weight … l5.bias with the workload's shapes). */
export function readInit(path: string): DenseInit[] {
  const bytes = readFileSync(path);
  const headerBytes = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerBytes).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const tensor = (name: string, shape: number[]): Float32Array => {
    const t = header[name];
    if (!t || t.dtype !== 'F32' || t.shape.join(',') !== shape.join(',')) throw new Error(`${path}: ${name} is not F32 [${shape}]`);
    const [begin, end] = t.data_offsets;
    const data = bytes.subarray(8 + headerBytes + begin, 8 + headerBytes + end);
    return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  };
  return Array.from({ length: DENSE_LAYERS }, (_, l) => {
    const inFeatures = WORKLOAD.layers[l]!;
    const outFeatures = WORKLOAD.layers[l + 1]!;
    return {
      inFeatures,
      outFeatures,
      weight: tensor(`l${l + 1}.weight`, [outFeatures, inFeatures]),
      bias: tensor(`l${l + 1}.bias`, [outFeatures]),
    };
  });
}

/** Writes the init file and returns its SHA-256, for the record. */
export function writeInit(path: string, layers: readonly DenseInit[]): string {
  const bytes = encodeInit(layers);
  writeFileSync(path, bytes);
  return createHash('sha256').update(bytes).digest('hex');
}

/** W as [in, out] (what `x @ W` wants, the layout TensorFlow.js and JAX keep dense kernels in). */
export function transposed(d: DenseInit): Float32Array {
  const out = new Float32Array(d.weight.length);
  for (let o = 0; o < d.outFeatures; o++) {
    for (let i = 0; i < d.inFeatures; i++) out[i * d.outFeatures + o] = d.weight[o * d.inFeatures + i]!;
  }
  return out;
}
