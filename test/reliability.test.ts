import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceLostError, GpuError, InputError } from '../src/runtime/errors.ts';
import { datasetFrom } from '../src/model/data/dataset.ts';
import { checkLimits } from '../src/model/trainer/limits.ts';
import { TILES_TUNING, SPLIT_TUNING } from '../src/model/programs/tuning.ts';
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

describe('checkpoints during fit()', () => {
  it('onEpoch may take a checkpoint (nothing is in flight then), as the CLI does after every epoch', async () => {
    const trainer = await createTrainer(gpu, small, tiny());
    try {
      let bytes: Uint8Array | undefined;
      await trainer.fit({ epochs: 1, evaluate: false, onEpoch: async () => void (bytes = await trainer.checkpoint()) });
      expect(bytes?.byteLength).toBeGreaterThan(0);
    } finally {
      trainer.dispose();
    }
  });
});

describe('limits named, not hit', () => {
  const refusal = async (p: Promise<unknown>) => {
    const error = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  };

  it('Trainer.create refuses parameters and activations over the binding limit, naming it and both sizes, before any GPU object', async () => {
    const limit = gpu.device.limits.maxStorageBufferBindingSize;
    const live = gpu.buffers.live;
    // One hidden layer wide enough that its weights alone pass the limit.
    const wide = Math.ceil(limit / (784 * 4)) + 1;
    const params = await refusal(createTrainer(gpu, small, { layers: [784, wide, 10] }));
    expect(params).toMatch(
      new RegExp(`^the parameters .* need [\\d,]+ bytes .*maxStorageBufferBindingSize of ${limit.toLocaleString('en-US')} bytes`),
    );
    expect(params).toContain('use smaller layers');
    // Activations: rows × the widest layer (here 1000 features) over the limit, the weights well under it.
    const rows = Math.floor(limit / 4000) + 1;
    const count = rows;
    const train = datasetFrom({
      features: new Uint8Array(count * 784),
      labels: new Uint8Array(count),
      featureCount: 784,
      classes: 10,
      normalization: { mean: 0.1307, std: 0.3081 },
    });
    const big = { train, test: small.test };
    const acts = await refusal(createTrainer(gpu, big, { layers: [784, 1000, 10], batchSize: 10 * count }));
    expect(acts).toMatch(new RegExp(`activations of a batch \\(${count} rows × 1000 features`));
    expect(acts).toMatch(/maxStorageBufferBindingSize/);
    expect(acts).toContain(`use a batch size of at most ${Math.floor(limit / 4000)}`);
    expect(gpu.buffers.live).toBe(live);
  });

  it('a device with smaller limits than the run needs: each limit named', () => {
    const limits = {
      maxStorageBufferBindingSize: 128 << 20,
      maxBufferSize: 256 << 20,
      maxComputeWorkgroupStorageSize: 16_384,
      maxComputeWorkgroupsPerDimension: 65_535,
      maxComputeInvocationsPerWorkgroup: 256,
    };
    const plan = { layers: [784, 64, 10], batchSize: 64, evalBatchSize: 1000, tuning: TILES_TUNING, train: small.train, test: small.test };
    checkLimits(limits, plan);
    expect(() => checkLimits({ ...limits, maxStorageBufferBindingSize: 100_000 }, plan)).toThrow(
      /parameters .* need [\d,]+ bytes, over the device's maxStorageBufferBindingSize of 100,000 bytes/,
    );
    expect(() => checkLimits({ ...limits, maxBufferSize: 400_000 }, plan)).toThrow(
      /features of .* need 501,760 bytes, over the device's maxBufferSize/,
    );
    expect(() => checkLimits({ ...limits, maxComputeWorkgroupStorageSize: 1024 }, plan)).toThrow(
      /need 2,048 bytes of workgroup memory, over the device's maxComputeWorkgroupStorageSize of 1,024 bytes/,
    );
    expect(() => checkLimits({ ...limits, maxComputeInvocationsPerWorkgroup: 128 }, { ...plan, tuning: SPLIT_TUNING })).toThrow(
      /invocations a workgroup, over the device's maxComputeInvocationsPerWorkgroup of 128/,
    );
    expect(() => checkLimits({ ...limits, maxComputeWorkgroupsPerDimension: 4 }, plan)).toThrow(
      /layer 1 \(784 → 64\) at 64 rows needs \d+ workgroups along one dispatch dimension, over the device's maxComputeWorkgroupsPerDimension of 4/,
    );
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
    // What could leak is host-side (buffers, bind groups, promises, per-step JS objects), made per step and per
    // submit whatever the model's size: a 16-feature model keeps the GPU work per step tiny, so the 20,000 steps
    // cost little more than their dispatches.
    const train = datasetFrom({
      features: Uint8Array.from({ length: 640 * 16 }, (_, i) => (i * 37) % 256),
      labels: Uint8Array.from({ length: 640 }, (_, i) => i % 4),
      featureCount: 16,
      classes: 4,
      normalization: { mean: 0.5, std: 0.25 },
    });
    const trainer = await createTrainer(
      gpu,
      { train, test: train },
      { ...tiny(), layers: [16, 8, 4], stepsPerSubmit: 250, maxInFlight: 3 },
    );
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
