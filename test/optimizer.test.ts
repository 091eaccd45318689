import { afterAll, beforeAll, describe, it } from 'vitest';
import { hyperData, optimizer, optimizerGrid, optimizerOverrides } from '../src/kernels/optimizer.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { bindGroup, dispatch } from '../src/runtime/pipelines.ts';
import { Rng } from '../src/model/rng.ts';
import { expectClose, randomArray, readF32, storageBuffer, testGpu, uniformBuffer } from './helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('the optimizer pass (SGD with momentum) over a flat parameter buffer', () => {
  for (const [count, lr, momentum, weightDecay] of [
    [1, 0.1, 0.5, 0],
    [255, 0.01, 0.5, 0],
    [257, 0.05, 0.9, 1e-2],
    [100_003, 0.01, 0.0, 0],
  ] as const) {
    it(`${count} parameters, 5 steps, lr ${lr}, momentum ${momentum}, weight decay ${weightDecay}, against torch.optim.SGD's rule in float64`, async () => {
      const rng = new Rng(count);
      const w0 = randomArray(rng, count);
      const steps = Array.from({ length: 5 }, () => randomArray(rng, count, 0.3));
      const params = storageBuffer(gpu, 'params', w0);
      const grads = storageBuffer(gpu, 'grads', count);
      const velocity = storageBuffer(gpu, 'velocity', new Float32Array(count));
      const hyper = uniformBuffer(gpu, 'hyper', hyperData({ lr, momentum, weightDecay }));
      const kernel = await gpu.pipelines.get(optimizer, 'step', optimizerOverrides(count));
      const group = bindGroup(gpu.device, kernel, 'sgd', { params, grads, velocity, hyper });
      // All five steps in one submit; each step's gradient copied in between, as a training step would write it.
      const encoder = gpu.device.createCommandEncoder();
      const sources = steps.map((g, i) => storageBuffer(gpu, `g${i}`, g));
      for (const source of sources) {
        encoder.copyBufferToBuffer(source, 0, grads, 0, count * 4);
        const pass = encoder.beginComputePass();
        dispatch(pass, kernel, group, optimizerGrid(count));
        pass.end();
      }
      gpu.device.queue.submit([encoder.finish()]);

      // PyTorch: d_p = g + wd·p; buf = d_p on the first step, then buf = μ·buf + d_p; p −= lr·buf.
      const w = Float64Array.from(w0);
      const v = new Float64Array(count);
      steps.forEach((g, step) => {
        for (let i = 0; i < count; i++) {
          const d = g[i]! + weightDecay * w[i]!;
          v[i] = step === 0 ? d : momentum * v[i]! + d;
          w[i]! -= lr * v[i]!;
        }
      });
      expectClose(await readF32(gpu, params), w, { atol: 1e-6, rtol: 1e-5, what: 'weights' });
      expectClose(await readF32(gpu, velocity), v, { atol: 1e-6, rtol: 1e-5, what: 'momentum buffer' });
    });
  }
});
