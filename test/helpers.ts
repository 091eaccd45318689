import { expect } from 'vitest';
import { InputError } from '../src/runtime/errors.ts';
import { acquireNodeGpu } from '../src/runtime/node-device.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { bindGroup, dispatch, type BindingResource, type Kernel } from '../src/runtime/pipelines.ts';
import type { Grid } from '../src/kernels/spec.ts';
import { type Rng } from '../src/model/rng.ts';

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
 * What an SGD-momentum update (torch.optim.SGD: v = μ·v + g + wd·w; w' = w − lr·v) should leave in
 * params_out and velocity, in float64: `update(at, grad)` fills one element; params_out elements
 * never updated stay NaN, as the poisoned GPU buffer should.
 */
export function expectedSgd(params: Float32Array, velocity: Float32Array, hyper: { lr: number; momentum: number; weightDecay: number }) {
  const w = new Float64Array(params.length).fill(Number.NaN);
  const v = Float64Array.from(velocity);
  const update = (at: number, grad: number) => {
    v[at] = hyper.momentum * velocity[at]! + grad + hyper.weightDecay * params[at]!;
    w[at] = params[at]! - hyper.lr * v[at]!;
  };
  return { w, v, update };
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
    optimizer: sgd({ lr: r.lr ?? 0.01, momentum: r.momentum ?? 0.5, weightDecay: r.weightDecay ?? 0 }),
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
