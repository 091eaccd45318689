import { expect } from 'vitest';
import { InputError } from '../src/runtime/errors.ts';
import { acquireNodeGpu } from '../src/runtime/node-device.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { bindGroup, dispatch, type BindingResource, type Kernel } from '../src/runtime/pipelines.ts';
import type { Grid } from '../src/kernels/spec.ts';
import { type Rng } from '../src/model/rng.ts';
import { denseDims, type DenseShape } from '../src/kernels/dense.ts';
import { hyperData } from '../src/kernels/optimizer.ts';
import { StepStat } from '../src/kernels/records.ts';
import { hyperValues, stepValues, type Optimizer } from '../src/model/optimizers.ts';
import { StepTable } from '../src/model/parameters.ts';

/** The test's device. No adapter means the test fails, loudly: there is no CPU fallback to hide behind. */
export async function testGpu(): Promise<Gpu> {
  const gpu = await acquireNodeGpu({ label: 'test' }).catch((error: unknown) => {
    throw new Error(
      `no WebGPU adapter: ${String(error)}. Install Mesa's lavapipe from bookworm-backports (bash scripts/install-system-deps.sh).`,
    );
  });
  return gpu;
}

export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.nextFloat() * 2 - 1) * scale;
  return out;
}

/**
 * torch.optim's update of one element in float64 (test/golden/README.md's rules): `state` holds
 * the element's optimizer state (SGD: [momentum buffer]; Adam: [exp_avg, exp_avg_sq]) and is
 * updated in place; returns w'. `t` is the optimizer's step (1, 2, …), `lr` that step's lr.
 */
export function referenceUpdate(o: Optimizer, w: number, state: number[], grad: number, lr: number, t: number): number {
  if (o.kind === 'sgd') {
    const g = grad + o.weightDecay * w;
    if (o.momentum === 0) return w - lr * g;
    const buf = t === 1 ? g : o.momentum * state[0]! + (1 - o.dampening) * g;
    state[0] = buf;
    return w - lr * (o.nesterov ? g + o.momentum * buf : buf);
  }
  const [beta1, beta2] = o.betas;
  const g = o.kind === 'adam' ? grad + o.weightDecay * w : grad;
  const decayed = o.kind === 'adamw' ? w * (1 - lr * o.weightDecay) : w;
  const m = beta1 * state[0]! + (1 - beta1) * g;
  const v = beta2 * state[1]! + (1 - beta2) * g * g;
  state[0] = m;
  state[1] = v;
  const stepSize = lr / (1 - beta1 ** t);
  return decayed - (stepSize * m) / (Math.sqrt(v) / Math.sqrt(1 - beta2 ** t) + o.eps);
}

/**
 * What one update of some elements should leave in params_out and the optimizer state, in
 * float64: `update(at, grad)` fills one element; params_out elements never updated stay NaN, as
 * the poisoned GPU buffer should.
 */
export function expectedUpdate(o: Optimizer, params: Float32Array, state: readonly Float32Array[], lr: number, t: number) {
  const w = new Float64Array(params.length).fill(Number.NaN);
  const s = state.map((x) => Float64Array.from(x));
  const update = (at: number, grad: number) => {
    const e = state.map((x) => x[at]!);
    w[at] = referenceUpdate(o, params[at]!, e, grad, lr, t);
    e.forEach((v, i) => (s[i]![at] = v));
  };
  return { w, state: s, update };
}

/**
 * The optimizer's bindings of an updating kernel, for a test: its state (the tensors of `state`
 * one after another, each `stride` floats), the Hyper uniform, a step table whose slot `slot`
 * holds step t's values at `lr`, and stats whose `nonfinite` flag the update raises.
 */
export function optimizerBindings(gpu: Gpu, o: Optimizer, stride: number, state: readonly Float32Array[], lr: number, t: number, slot = 0) {
  const all = new Float32Array(stride * state.length);
  state.forEach((x, i) => all.set(x, i * stride));
  const optState = storageBuffer(gpu, 'opt_state', all);
  const table = new StepTable(gpu, 'test.steps', slot + 1, 1);
  table.setOptimizerSteps(gpu, slot, [stepValues(o, lr, t)]);
  const stats = storageBuffer(gpu, 'stats', new Uint32Array(((slot + 1) * StepStat.size) / 4));
  const readState = async () => {
    const out = await readF32(gpu, optState);
    return state.map((_, i) => out.subarray(i * stride, (i + 1) * stride));
  };
  const nonfinite = async () => StepStat.read(await gpu.read(stats), slot).nonfinite;
  return {
    resources: {
      opt_state: optState,
      hyper: uniformBuffer(gpu, 'hyper', hyperData(hyperValues(o, stride))),
      step: table.binding(),
      step_flags: stats,
    },
    offsets: table.offset(slot),
    table,
    stats,
    readState,
    nonfinite,
  };
}

/** State tensors an optimizer keeps, random (a run already under way) or zero. */
export function randomState(rng: Rng, o: Optimizer, n: number): Float32Array[] {
  if (o.kind === 'sgd') return [randomArray(rng, n, 0.1)];
  return [randomArray(rng, n, 0.1), randomArray(rng, n, 0.01).map((v) => v * v * 100)];
}

export function storageBuffer(gpu: Gpu, label: string, data: ArrayBufferView | number): GPUBuffer {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  if (typeof data === 'number') {
    // Poisoned with NaN so an element the kernel forgets to write shows up in the comparison.
    return gpu.buffers.create(label, data * 4, usage, new Float32Array(data).fill(Number.NaN));
  }
  return gpu.buffers.create(label, data.byteLength, usage, data);
}

export function uniformBuffer(gpu: Gpu, label: string, data: ArrayBufferView): GPUBuffer {
  return gpu.buffers.create(label, data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, data);
}

/** A dense kernel's `dims` uniform for one layer shape. */
export function dimsBuffer(gpu: Gpu, shape: DenseShape): GPUBuffer {
  return uniformBuffer(gpu, 'dims', denseDims(shape));
}

export async function runKernel(
  gpu: Gpu,
  kernel: Kernel,
  resources: Record<string, BindingResource>,
  grid: Grid,
  dynamicOffsets?: number[],
): Promise<void> {
  const group = bindGroup(gpu.device, kernel, `test.${kernel.label}`, resources);
  const encoder = gpu.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  dispatch(pass, kernel, group, grid, dynamicOffsets);
  pass.end();
  gpu.device.queue.submit([encoder.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
  gpu.check();
}

export async function readF32(gpu: Gpu, buffer: GPUBuffer): Promise<Float32Array> {
  return new Float32Array(await gpu.read(buffer));
}

export async function readU32(gpu: Gpu, buffer: GPUBuffer): Promise<Uint32Array> {
  return new Uint32Array(await gpu.read(buffer));
}

/** |actual − expected| ≤ atol + rtol·|expected| everywhere; on failure names the worst element. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4, what = 'values' }: { atol?: number; rtol?: number; what?: string } = {},
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMnistDir } from '../src/model/data/mnist-node.ts';
import { datasetFrom, type Dataset } from '../src/model/data/dataset.ts';
import type { MnistLike } from '../src/model/data/mnist.ts';
import { decodeSafetensors, type Tensor } from '../src/model/io/safetensors.ts';
import { SEED_LAYERS } from '../src/model/layout.ts';
import { mlp } from '../src/model/model.ts';
import type { Tuning } from '../src/model/programs/tuning.ts';
import { sgd } from '../src/model/optimizers.ts';
import type { LrScheduleOptions } from '../src/model/schedules.ts';
import { Trainer } from '../src/model/trainer/trainer.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MNIST_DIR = process.env.MNIST_DIR ? resolve(process.env.MNIST_DIR) : resolve(ROOT, '../shared/mnist');

let mnist: Promise<MnistLike> | undefined;
/** The real MNIST files (MNIST_DIR, else ../shared/mnist), read once per test file. */
export function realMnist(): Promise<MnistLike> {
  mnist ??= loadMnistDir(MNIST_DIR);
  return mnist;
}

/** `count` samples from `from` on, copied, keeping the data set's normalization. */
export function takeSplit(split: Dataset, count: number, from = 0): Dataset {
  const f = split.featureCount;
  return datasetFrom({
    name: split.name,
    features: split.features.slice(from * f, (from + count) * f),
    labels: split.labels.slice(from, from + count),
    featureCount: f,
    classes: split.classes,
    normalization: split.normalization,
  });
}

export function golden(name: string): Map<string, Tensor> {
  const file = join(ROOT, 'test/golden', name);
  return decodeSafetensors(new Uint8Array(readFileSync(file)), name).tensors;
}

export function goldenJson<T>(name: string): T {
  return JSON.parse(readFileSync(join(ROOT, 'test/golden', name), 'utf8')) as T;
}

/** Runs `action` and checks it fails with a one-line InputError containing every fragment. */
export async function expectInputError(action: () => unknown, ...fragments: string[]): Promise<InputError> {
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an InputError').toBeInstanceOf(InputError);
  const err = caught as InputError;
  expect(err.message).not.toMatch(/[\r\n]/);
  for (const fragment of fragments) expect(err.message).toContain(fragment);
  return err;
}

/** The old-style settings the training tests vary, mapped onto the public TrainerOptions. */
export interface TestRun {
  readonly layers?: readonly number[];
  readonly batchSize?: number;
  readonly lr?: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
  /** instead of lr, momentum, weightDecay */
  readonly optimizer?: Optimizer;
  readonly schedule?: LrScheduleOptions;
  readonly seed?: number;
  readonly shuffle?: boolean;
  readonly fusedUpdate?: boolean;
  readonly stepsPerSubmit?: number;
  readonly maxInFlight?: number;
  readonly evalBatchSize?: number;
  readonly tuning?: Tuning;
  readonly init?: Map<string, Tensor>;
  readonly initName?: string;
}

/** A trainer of the seed's MLP and SGD (lr 0.01, momentum 0.5, batch 64) with the run's changes. */
export function createTrainer(gpu: Gpu, data: MnistLike, r: TestRun = {}): Promise<Trainer> {
  return Trainer.create(gpu, {
    model: mlp(r.layers ?? SEED_LAYERS),
    optimizer: r.optimizer ?? sgd({ lr: r.lr ?? 0.01, momentum: r.momentum ?? 0.5, weightDecay: r.weightDecay ?? 0 }),
    ...(r.schedule ? { schedule: r.schedule } : {}),
    train: data.train,
    test: data.test,
    batchSize: r.batchSize ?? 64,
    seed: r.seed ?? 1,
    shuffle: r.shuffle ?? true,
    ...(r.fusedUpdate !== undefined ? { fusedUpdate: r.fusedUpdate } : {}),
    ...(r.stepsPerSubmit !== undefined ? { stepsPerSubmit: r.stepsPerSubmit } : {}),
    ...(r.maxInFlight !== undefined ? { maxInFlight: r.maxInFlight } : {}),
    ...(r.evalBatchSize !== undefined ? { evalBatchSize: r.evalBatchSize } : {}),
    ...(r.tuning ? { tuning: r.tuning } : {}),
    ...(r.init ? { init: r.init, initName: r.initName ?? 'init' } : {}),
  });
}

/**
 * The parity tests' measure: ‖Δours − Δtheirs‖ / ‖Δtheirs‖, Δ being the change of a tensor from the
 * same init, so it compares what training did rather than weights that barely moved.
 */
export function relativeChangeError(init: Tensor, ours: Tensor, theirs: Tensor): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < init.data.length; i++) {
    const a = ours.data[i]! - init.data[i]!;
    const b = theirs.data[i]! - init.data[i]!;
    diff += (a - b) ** 2;
    norm += b ** 2;
  }
  return Math.sqrt(diff / norm);
}
