import { afterAll, beforeAll, describe, it } from 'vitest';
import { relu, reluGrid, reluOverrides } from '../src/kernels/relu.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { Rng } from '../src/model/rng.ts';
import { expectClose, randomArray, readF32, runKernel, storageBuffer, testGpu } from './helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('ReLU kernels', () => {
  for (const count of [1, 255, 256, 257, 45 * 65, 64 * 784]) {
    it(`forward and backward over ${count} values, exact zeros included`, async () => {
      const rng = new Rng(count);
      const x = randomArray(rng, count);
      for (let i = 0; i < count; i += 7) x[i] = 0; // PyTorch: relu'(0) = 0
      const dy = randomArray(rng, count);
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
      expectClose(
        await readF32(gpu, y),
        Array.from(x, (v) => Math.max(v, 0)),
        { atol: 0, rtol: 0, what: 'relu(x)' },
      );
      expectClose(
        await readF32(gpu, dx),
        Array.from(x, (v, i) => (v > 0 ? dy[i]! : 0)),
        { atol: 0, rtol: 0, what: 'relu backward' },
      );
    });
  }
});
