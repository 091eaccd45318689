import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { data, gatherGrid, gatherOverrides, MNIST_NORMALIZATION, STEP_PARAMS_BYTES } from '../src/kernels/data.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { Rng } from '../src/model/rng.ts';
import { expectClose, readF32, readU32, runKernel, storageBuffer, testGpu } from './helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('batch gather + normalize from bytes on the GPU', () => {
  // Feature counts that are not multiples of 4 put samples at every byte alignment of a u32 word.
  for (const [count, features, rows, batchStart, shuffled] of [
    [50, 784, 13, 7, true],
    [50, 13, 45, 5, true],
    [20, 3, 20, 0, false],
    [300, 5, 64, 236, false],
    [9, 1, 1, 8, true],
  ] as const) {
    it(`${rows} rows × ${features} features from ${count} samples, start ${batchStart}, ${shuffled ? 'shuffled' : 'in order'}`, async () => {
      const rng = new Rng(count + features + rows);
      const images = Uint8Array.from({ length: count * features }, () => rng.nextBelow(256));
      const labels = Uint8Array.from({ length: count }, () => rng.nextBelow(10));
      const order = rng.permutation(count);
      const kernel = await gpu.pipelines.get(data, 'gather', gatherOverrides(rows, features, shuffled, MNIST_NORMALIZATION));
      const stride = gpu.device.limits.minUniformBufferOffsetAlignment;
      const params = new Uint32Array((stride * 3) / 4);
      params[(2 * stride) / 4 + 1] = batchStart;
      const x = storageBuffer(gpu, 'x', rows * features);
      const y = storageBuffer(gpu, 'y', rows);
      await runKernel(
        gpu,
        kernel,
        {
          images: storageBuffer(gpu, 'images', images),
          labels: storageBuffer(gpu, 'labels', labels),
          order: storageBuffer(gpu, 'order', order),
          x,
          y,
          step: {
            buffer: gpu.buffers.create('steps', params.byteLength, GPUBufferUsage.UNIFORM, params),
            offset: 0,
            size: STEP_PARAMS_BYTES,
          },
        },
        gatherGrid(rows, features),
        [2 * stride],
      );
      const expectedX = new Float64Array(rows * features);
      const expectedY: number[] = [];
      for (let r = 0; r < rows; r++) {
        const sample = shuffled ? order[batchStart + r]! : batchStart + r;
        expectedY.push(labels[sample]!);
        for (let f = 0; f < features; f++) {
          expectedX[r * features + f] = (images[sample * features + f]! / 255 - MNIST_NORMALIZATION.mean) / MNIST_NORMALIZATION.std;
        }
      }
      expectClose(await readF32(gpu, x), expectedX, { atol: 1e-6, rtol: 1e-6, what: 'normalized pixels' });
      expect([...(await readU32(gpu, y))]).toEqual(expectedY);
    });
  }
});
