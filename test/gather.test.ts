import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gather, gatherGrid, gatherOverrides } from '../src/kernels/gather.ts';
import { StepParams } from '../src/kernels/records.ts';
import { datasetFrom, featureScale } from '../src/model/data/dataset.ts';
import { destroyDataset, uploadDataset } from '../src/model/data/gpu-dataset.ts';
import { MNIST_NORMALIZATION } from '../src/model/data/mnist.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { Rng } from '../src/model/rng.ts';
import { expectClose, readF32, readU32, runKernel, storageBuffer, testGpu } from './helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('batch gather + normalize from the data set on the GPU', () => {
  // Feature counts that are not multiples of 4 put byte samples at every alignment of a u32 word.
  for (const [count, features, rows, batchStart, shuffled, type, classes] of [
    [50, 784, 13, 7, true, 'u8', 10],
    [50, 13, 45, 5, true, 'u8', 10],
    [20, 3, 20, 0, false, 'u8', 2],
    [300, 5, 64, 236, false, 'u8', 300],
    [9, 1, 1, 8, true, 'u8', 3],
    [50, 13, 45, 5, true, 'f32', 1000],
    [30, 7, 30, 0, false, 'f32', 7],
    [9, 1, 1, 8, true, 'f32', 2],
  ] as const) {
    it(`${rows} rows × ${features} ${type} features from ${count} samples of ${classes} classes, start ${batchStart}, ${shuffled ? 'shuffled' : 'in order'}`, async () => {
      const rng = new Rng(count + features + rows + classes);
      const values =
        type === 'u8'
          ? Uint8Array.from({ length: count * features }, () => rng.nextBelow(256))
          : Float32Array.from({ length: count * features }, () => (rng.nextFloat() - 0.3) * 40);
      const labels = Uint32Array.from({ length: count }, () => rng.nextBelow(classes));
      // the seed's normalization for bytes; one computed from the data for floats
      const dataset = datasetFrom({
        features: values,
        labels,
        featureCount: features,
        classes,
        ...(type === 'u8' ? { normalization: MNIST_NORMALIZATION } : {}),
      });
      const { mean, std } = dataset.normalization;
      const order = rng.permutation(count);
      const onGpu = uploadDataset(gpu, dataset, 'test.data');
      const kernel = await gpu.pipelines.get(gather, 'gather', gatherOverrides(rows, onGpu, shuffled));
      const stride = gpu.device.limits.minUniformBufferOffsetAlignment;
      const params = new ArrayBuffer(stride * 3);
      StepParams.write(params, { slot: 0, batchStart, lr: 0, stepSize: 0, bc2Sqrt: 1, decay: 1, first: 0 }, 0, 2 * stride);
      const x = storageBuffer(gpu, 'x', rows * features);
      const y = storageBuffer(gpu, 'y', rows);
      await runKernel(
        gpu,
        kernel,
        {
          features: onGpu.features,
          labels: onGpu.labels,
          order: storageBuffer(gpu, 'order', order),
          x,
          y,
          step: {
            buffer: gpu.buffers.create('steps', params.byteLength, GPUBufferUsage.UNIFORM, new Uint8Array(params)),
            offset: 0,
            size: StepParams.size,
          },
        },
        gatherGrid(rows, features),
        [2 * stride],
      );
      const expectedX = new Float64Array(rows * features);
      const expectedY: number[] = [];
      const scale = featureScale(type);
      for (let r = 0; r < rows; r++) {
        const sample = shuffled ? order[batchStart + r]! : batchStart + r;
        expectedY.push(labels[sample]!);
        for (let f = 0; f < features; f++) {
          expectedX[r * features + f] = (values[sample * features + f]! * scale - mean) / std;
        }
      }
      expectClose(await readF32(gpu, x), expectedX, { atol: 1e-6, rtol: 1e-6, what: 'normalized features' });
      expect([...(await readU32(gpu, y))]).toEqual(expectedY);
      destroyDataset(gpu, onGpu);
    });
  }
});
