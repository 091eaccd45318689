import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denseFamily, denseOverrides, forwardGrid, type DenseTuning } from '../src/kernels/dense.ts';
import { relu, reluGrid, reluOverrides } from '../src/kernels/relu.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { Rng } from '../src/model/rng.ts';
import { dimsBuffer, expectClose, randomArray, readF32, runKernel, storageBuffer, testGpu } from './helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

/** relu_forward and relu_backward over `x` (and `dy`), each into a NaN-poisoned output. */
async function runRelu(x: Float32Array, dy: Float32Array): Promise<{ y: Float32Array; dx: Float32Array }> {
  const count = x.length;
  const y = storageBuffer(gpu, 'y', count);
  const dx = storageBuffer(gpu, 'dx', count);
  const xb = storageBuffer(gpu, 'x', x);
  await runKernel(gpu, await gpu.pipelines.get(relu, 'relu_forward', reluOverrides(count)), { x: xb, y }, reluGrid(count));
  await runKernel(
    gpu,
    await gpu.pipelines.get(relu, 'relu_backward', reluOverrides(count)),
    { x: xb, dy: storageBuffer(gpu, 'dy', dy), dx },
    reluGrid(count),
  );
  return { y: await readF32(gpu, y), dx: await readF32(gpu, dx) };
}

describe('ReLU kernels', () => {
  for (const count of [1, 255, 256, 257, 45 * 65, 64 * 784]) {
    it(`forward and backward over ${count} values, exact zeros included`, async () => {
      const rng = new Rng(count);
      const x = randomArray(rng, count);
      for (let i = 0; i < count; i += 7) x[i] = 0; // PyTorch: relu'(0) = 0
      const dy = randomArray(rng, count);
      const { y, dx } = await runRelu(x, dy);
      expectClose(
        y,
        Array.from(x, (v) => Math.max(v, 0)),
        { atol: 0, rtol: 0, what: 'relu(x)' },
      );
      expectClose(
        dx,
        Array.from(x, (v, i) => (v > 0 ? dy[i]! : 0)),
        { atol: 0, rtol: 0, what: 'relu backward' },
      );
    });
  }

  // torch.relu(NaN) is NaN and threshold_backward passes the gradient where x is NaN (NaN <= 0 is
  // false): a NaN weight must not turn into a finite loss (WGSL's max(NaN, 0.0) may give 0).
  it('propagates NaN as PyTorch: relu(NaN) = NaN, the gradient at a NaN input passes', async () => {
    const x = Float32Array.of(Number.NaN, -1, 0, 2, Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
    const dy = Float32Array.of(0.5, 0.5, 0.5, 0.5, 0.25, 0.5, 0.5);
    const { y, dx } = await runRelu(x, dy);
    expect(Array.from(y)).toEqual([NaN, 0, 0, 2, NaN, 0, Infinity]);
    expect(Array.from(dx)).toEqual([0.5, 0, 0, 0.5, 0.25, 0, 0.5]);
  });

  for (const tuning of [
    { variant: 'tiles', wgX: 8, wgY: 8, split: 1 },
    { variant: 'rows', wgX: 16, wgY: 1, split: 1 },
    { variant: 'split', wgX: 8, wgY: 8, split: 4 },
  ] as DenseTuning[]) {
    it(`the dense forward's fused ReLU keeps a NaN sum NaN (${tuning.variant})`, async () => {
      // Y = X·Wᵀ + b for 3 rows, 2 outputs, 2 inputs; output 0's weight is NaN, output 1 is negative (ReLU → 0).
      const s = { rows: 3, inFeatures: 2, outFeatures: 2, weightOffset: 0, biasOffset: 4 };
      const params = Float32Array.of(Number.NaN, 1, -1, -1, 0, -5);
      const x = Float32Array.of(1, 1, 0, 2, 3, 0);
      const y = storageBuffer(gpu, 'y', 6);
      const kernel = await gpu.pipelines.get(denseFamily(tuning), 'forward', denseOverrides(tuning, { relu: true }));
      await runKernel(
        gpu,
        kernel,
        { x: storageBuffer(gpu, 'x', x), params: storageBuffer(gpu, 'p', params), y, dims: dimsBuffer(gpu, s) },
        forwardGrid(s, tuning),
      );
      expect(Array.from(await readF32(gpu, y))).toEqual([NaN, 0, NaN, 0, NaN, 0]);
    });
  }
});
