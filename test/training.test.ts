import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DivergenceError } from '../src/runtime/errors.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { decodeCheckpoint } from '../src/model/io/checkpoint.ts';
import { datasetFrom } from '../src/model/data/dataset.ts';
import type { MnistLike } from '../src/model/data/mnist.ts';
import { paramLayout, type ParamLayout } from '../src/model/layout.ts';
import { Rng } from '../src/model/rng.ts';
import { createTrainer, expectClose, realMnist, takeSplit, testGpu, type TestRun } from './helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

function syntheticData(rng: Rng, count: number, features: number, classes: number): MnistLike {
  const split = () =>
    datasetFrom({
      features: Uint8Array.from({ length: count * features }, () => rng.nextBelow(256)),
      labels: Uint8Array.from({ length: count }, () => rng.nextBelow(classes)),
      featureCount: features,
      classes,
      normalization: { mean: 0.1307, std: 0.3081 },
    });
  return { train: split(), test: split() };
}

/** Mean cross-entropy of the MLP on the (normalized) batch, all in float64. */
function lossF64(layout: ParamLayout, flat: Float64Array, x: Float64Array, labels: ArrayLike<number>, rows: number): number {
  let act = x;
  for (const [l, d] of layout.dense.entries()) {
    const next = new Float64Array(rows * d.outFeatures);
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < d.outFeatures; o++) {
        let s = flat[d.biasOffset + o]!;
        for (let i = 0; i < d.inFeatures; i++) s += act[r * d.inFeatures + i]! * flat[d.weightOffset + o * d.inFeatures + i]!;
        next[r * d.outFeatures + o] = l < layout.dense.length - 1 ? Math.max(s, 0) : s;
      }
    act = next;
  }
  const classes = layout.layers.at(-1)!;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const z = Array.from(act.subarray(r * classes, (r + 1) * classes));
    const max = Math.max(...z);
    total += Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0)) - (z[labels[r]!]! - max);
  }
  return total / rows;
}

describe('the whole MLP', () => {
  it('has the gradient of finite differences of its float64 loss (12-7-5-3, batch 5)', async () => {
    const layers = [12, 7, 5, 3];
    const rows = 5;
    const data = syntheticData(new Rng(3), rows, layers[0]!, layers.at(-1)!);
    const trainer = await createTrainer(gpu, data, { layers, batchSize: rows, shuffle: false, fusedUpdate: false, seed: 11 });
    try {
      const layout = paramLayout(layers);
      const init = Float64Array.from(await trainer.model.readWeights());
      const losses: number[] = [];
      await trainer.fit({ maxSteps: 1, evaluate: false, onBatch: (b) => losses.push(b.loss) });
      const grads = new Float32Array(await gpu.read(trainer.model.grads));

      const x = Float64Array.from(data.train.features, (v) => (v / 255 - 0.1307) / 0.3081);
      expect(losses[0]!).toBeCloseTo(lossF64(layout, init, x, data.train.labels, rows), 5);
      const h = 1e-6;
      const numeric: number[] = [];
      const analytic: number[] = [];
      for (const t of layout.tensors) {
        for (let i = 0; i < t.size; i++) {
          const at = t.offset + i;
          const w = init[at]!;
          init[at] = w + h;
          const up = lossF64(layout, init, x, data.train.labels, rows);
          init[at] = w - h;
          const down = lossF64(layout, init, x, data.train.labels, rows);
          init[at] = w;
          numeric.push((up - down) / (2 * h));
          analytic.push(grads[at]!);
        }
      }
      expect(numeric.some((g) => Math.abs(g) > 1e-3)).toBe(true);
      expectClose(analytic, numeric, { atol: 2e-6, rtol: 1e-3, what: 'dLoss/dθ' });
    } finally {
      trainer.dispose();
    }
  });
});

describe('training on real MNIST (subsets)', () => {
  let mnist: MnistLike;
  beforeAll(async () => {
    const full = await realMnist();
    mnist = { train: takeSplit(full.train, 1000), test: takeSplit(full.test, 500) };
  });

  const base = (): TestRun => ({ stepsPerSubmit: 5, maxInFlight: 2, evalBatchSize: 200, lr: 0.05, momentum: 0.9 });

  async function train(config: TestRun, epochs = 2, maxSteps: number | null = 24) {
    const trainer = await createTrainer(gpu, mnist, config);
    try {
      const losses: number[] = [];
      const { epochs: reports } = await trainer.fit({
        epochs,
        ...(maxSteps !== null ? { maxSteps } : {}),
        onBatch: (b) => losses.push(b.loss),
      });
      return { losses, reports, weights: await trainer.model.readWeights() };
    } finally {
      trainer.dispose();
    }
  }

  it('is deterministic: the same seed gives the same loss curve and weights, another seed does not', async () => {
    const a = await train(base());
    const b = await train(base());
    const c = await train({ ...base(), seed: 2 });
    expect(a.losses).toHaveLength(24);
    expect(b.losses).toEqual(a.losses);
    expect(b.weights).toEqual(a.weights);
    expect(c.losses).not.toEqual(a.losses);
    expect(a.reports.map((r) => r.epoch)).toEqual([0, 1]);
    expect(a.reports[1]!.partial).toBe(true);
  });

  it('pauses between submits and resumes to the same weights as an uninterrupted run', async () => {
    const config: TestRun = { ...base(), stepsPerSubmit: 3 };
    const whole = await train(config, 2, 20);
    const trainer = await createTrainer(gpu, mnist, config);
    try {
      let chunks = 0;
      const pause = new AbortController();
      const first = await trainer.fit({
        epochs: 2,
        maxSteps: 20,
        evaluate: false,
        signal: pause.signal,
        onChunk: () => {
          if (++chunks >= 2) pause.abort();
        },
      });
      expect(first.stopped).toBe('paused');
      expect(trainer.globalStep).toBeGreaterThan(0);
      expect(trainer.globalStep).toBeLessThan(20);
      expect((await trainer.fit({ epochs: 2, maxSteps: 20, evaluate: false })).stopped).toBe('completed');
      expect(trainer.globalStep).toBe(20);
      expect(await trainer.model.readWeights()).toEqual(whole.weights);
    } finally {
      trainer.dispose();
    }
  });

  it('resumes from a checkpoint to exactly the weights of an uninterrupted run', async () => {
    const config: TestRun = { ...base(), stepsPerSubmit: 4 };
    const whole = await train(config, 2, null);

    const first = await createTrainer(gpu, mnist, config);
    let bytes: Uint8Array;
    try {
      await first.fit({ epochs: 1, evaluate: false });
      bytes = await first.checkpoint();
    } finally {
      first.dispose();
    }
    const { state, config: saved } = decodeCheckpoint(bytes, 'checkpoint.safetensors');
    expect(state.epoch).toBe(1);
    expect(saved.batchSize).toBe(64);
    // The state alone carries the run: a trainer made with another seed continues it exactly.
    const second = await createTrainer(gpu, mnist, { ...config, seed: 999 });
    try {
      second.restoreState(state);
      await second.fit({ epochs: 2, evaluate: false });
      expect(second.globalStep).toBe(2 * second.stepsPerEpoch);
      expect(await second.model.readWeights()).toEqual(whole.weights);
      await expect(second.restore(bytes)).rejects.toThrow(/seed 1, this trainer has 999/);
    } finally {
      second.dispose();
    }
    const third = await createTrainer(gpu, mnist, config);
    try {
      await third.restore(bytes);
      await third.fit({ epochs: 2, evaluate: false });
      expect(await third.model.readWeights()).toEqual(whole.weights);
    } finally {
      third.dispose();
    }
  });

  it('stops at the first non-finite loss with that step, and rolls back to finite weights', async () => {
    const trainer = await createTrainer(gpu, mnist, { ...base(), lr: 1e4, momentum: 0.9 });
    try {
      const error = await trainer.fit({ epochs: 2, maxSteps: 24, evaluate: false }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DivergenceError);
      const step = (error as DivergenceError).step;
      expect((error as DivergenceError).message).toContain(`step ${step + 1}`);
      expect(trainer.lastGoodStep).toBeLessThanOrEqual(step);
      const weights = await trainer.model.readWeights();
      expect(weights.every(Number.isFinite)).toBe(true);
    } finally {
      trainer.dispose();
    }
  });

  it('learns: 3 epochs on 4,000 images reach 85% on 500 test images', async () => {
    const full = await realMnist();
    const data = { train: takeSplit(full.train, 4000), test: mnist.test };
    const trainer = await createTrainer(gpu, data, { ...base(), batchSize: 32, stepsPerSubmit: 25 });
    try {
      const { epochs: reports } = await trainer.fit({ epochs: 3 });
      expect(reports).toHaveLength(3);
      expect(reports[2]!.test!.accuracy).toBeGreaterThanOrEqual(0.85);
      expect(reports[2]!.trainLoss).toBeLessThan(reports[0]!.trainLoss);
    } finally {
      trainer.dispose();
    }
  });
});
