import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceLostError, GpuError } from '../src/runtime/errors.ts';
import type { Gpu } from '../src/runtime/device.ts';
import type { MnistLike } from '../src/model/data/mnist.ts';
import { createTrainer, realMnist, takeSplit, testGpu, type TestRun } from './helpers.ts';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let gpu: Gpu;
let small: MnistLike;
beforeAll(async () => {
  gpu = await testGpu();
  const full = await realMnist();
  small = { train: takeSplit(full.train, 640), test: takeSplit(full.test, 100) };
});
afterAll(() => gpu?.destroy());

const tiny = (): TestRun => ({ layers: [784, 16, 10], stepsPerSubmit: 10, evalBatchSize: 100 });

describe('GPU errors', () => {
  it('a failed allocation raises a GpuError that names the labelled object', async () => {
    const tooBig = gpu.device.limits.maxBufferSize + 4;
    const error = await gpu
      .scoped('weights.huge', () => gpu.device.createBuffer({ label: 'weights.huge', size: tooBig, usage: GPUBufferUsage.STORAGE }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(GpuError);
    expect((error as GpuError).message).toContain('weights.huge');
  });

  it('an error inside a training step surfaces at the next readback as a GpuError naming the buffer', async () => {
    const trainer = await createTrainer(gpu, small, tiny());
    try {
      // Sabotage: the epoch's order buffer is gone while steps still use it.
      (trainer as unknown as { order: GPUBuffer }).order.destroy();
      const error = await trainer.fit({ evaluate: false }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GpuError);
      expect((error as GpuError).message).toContain('train.order');
    } finally {
      trainer.dispose();
    }
  });
});

describe('device loss', () => {
  it('is reported as DeviceLostError by a run in progress, never a hang', async () => {
    const own = await testGpu();
    const trainer = await createTrainer(own, small, tiny());
    let chunks = 0;
    const error = await trainer
      .fit({
        epochs: 50,
        evaluate: false,
        onChunk: () => {
          if (++chunks === 2) own.device.destroy();
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(DeviceLostError);
    expect(own.isLost).toBe(true);
    trainer.dispose();
    own.destroy();
  });
});

describe('no leaks', () => {
  it('20,000 steps keep the live-buffer count and the JS heap flat', async () => {
    const trainer = await createTrainer(gpu, small, { ...tiny(), stepsPerSubmit: 250, maxInFlight: 3 });
    try {
      const samples: { step: number; buffers: number; heap: number }[] = [];
      let next = 2_500;
      await trainer.fit({
        epochs: 10_000,
        maxSteps: 20_000,
        evaluate: false,
        onChunk: (r) => {
          const step = r.firstStep + r.losses.length;
          if (step >= next) {
            next += 2_500;
            collectGarbage();
            samples.push({ step, buffers: gpu.buffers.live, heap: process.memoryUsage().heapUsed });
          }
        },
      });
      expect(trainer.globalStep).toBe(20_000);
      expect(samples.length).toBeGreaterThanOrEqual(7);
      const [first] = samples;
      for (const s of samples) expect(s.buffers, `live buffers at step ${s.step}`).toBe(first!.buffers);
      const heapGrowth = samples.at(-1)!.heap - samples[1]!.heap;
      expect(heapGrowth, 'heap growth over 15,000 steps').toBeLessThan(8 * 1024 * 1024);
    } finally {
      trainer.dispose();
    }
  });

  it('repeated create / train / dispose cycles return to the same live-buffer count and bytes', async () => {
    const before = { live: gpu.buffers.live, bytes: gpu.buffers.liveBytes };
    for (let i = 0; i < 5; i++) {
      const trainer = await createTrainer(gpu, small, tiny());
      await trainer.fit({ maxSteps: 12 });
      await trainer.predict(new Float32Array(784).fill(0.5));
      trainer.dispose();
    }
    await gpu.device.queue.onSubmittedWorkDone();
    expect({ live: gpu.buffers.live, bytes: gpu.buffers.liveBytes }).toEqual(before);
  });
});
