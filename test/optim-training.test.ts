import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MnistLike } from '../src/model/data/mnist.ts';
import { decodeCheckpoint } from '../src/model/io/checkpoint.ts';
import { adam, adamw, sgd, type Optimizer } from '../src/model/optimizers.ts';
import type { LrScheduleOptions } from '../src/model/schedules.ts';
import { DivergenceError } from '../src/runtime/errors.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { createTrainer, realMnist, takeSplit, testGpu, type TestRun } from './helpers.ts';

let gpu: Gpu;
let mnist: MnistLike;
beforeAll(async () => {
  gpu = await testGpu();
  const full = await realMnist();
  // 10 batches of 64 an epoch, and a short last one: epochs end often, and one batch is partial.
  mnist = { train: takeSplit(full.train, 9 * 64 + 40), test: takeSplit(full.test, 200) };
});
afterAll(() => gpu?.destroy());

const LAYERS = [784, 24, 16, 10];

const RUNS: readonly [string, Optimizer, LrScheduleOptions][] = [
  [
    'sgd nesterov, step schedule',
    sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
    { kind: 'step', stepSize: 1, gamma: 0.5 },
  ],
  ['sgd dampening, constant', sgd({ lr: 0.05, momentum: 0.9, dampening: 0.3 }), { kind: 'constant' }],
  ['adam, cosine with warm-up', adam({ lr: 3e-3, weightDecay: 1e-4 }), { kind: 'cosine', tMax: 3, etaMin: 1e-4, warmupSteps: 7 }],
  ['adamw, warm-up', adamw({ lr: 3e-3 }), { kind: 'constant', warmupSteps: 12 }],
];

describe('resume equals an uninterrupted run, bit for bit', () => {
  for (const [name, optimizer, schedule] of RUNS) {
    it(`${name}: a checkpoint mid-epoch and a pause, then three epochs in all`, async () => {
      const run: TestRun = { layers: LAYERS, optimizer, schedule, stepsPerSubmit: 3 };
      const whole = await createTrainer(gpu, mnist, run);
      let expected: { weights: Float32Array; state: Float32Array[] };
      try {
        await whole.fit({ epochs: 3, evaluate: false });
        expected = { weights: await whole.model.readWeights(), state: await whole.model.readState() };
      } finally {
        whole.dispose();
      }

      const first = await createTrainer(gpu, mnist, run);
      let bytes: Uint8Array;
      try {
        await first.fit({ epochs: 3, maxSteps: 13, evaluate: false }); // epoch 2, step 3 of 10
        bytes = await first.checkpoint();
      } finally {
        first.dispose();
      }
      const saved = decodeCheckpoint(bytes, 'checkpoint');
      expect(saved.config.optimizer).toEqual(optimizer);
      expect(saved.state.globalStep).toBe(13);
      expect(saved.state.optimizerState.length).toBe(optimizer.kind === 'sgd' ? 1 : 2);

      const second = await createTrainer(gpu, mnist, run);
      try {
        await second.restore(bytes);
        const controller = new AbortController();
        await second.fit({
          epochs: 3,
          evaluate: false,
          signal: controller.signal,
          onBatch: (b) => {
            if (b.step === 20) controller.abort();
          },
        });
        expect(second.globalStep).toBeLessThan(3 * second.stepsPerEpoch);
        await second.fit({ epochs: 3, evaluate: false });
        expect(second.globalStep).toBe(3 * second.stepsPerEpoch);
        expect(await second.model.readWeights()).toEqual(expected.weights);
        const state = await second.model.readState();
        state.forEach((s, i) => expect(s, `state ${i}`).toEqual(expected.state[i]));
      } finally {
        second.dispose();
      }
    });
  }

  it('refuses a checkpoint written with another optimizer or schedule', async () => {
    const a = await createTrainer(gpu, mnist, { layers: LAYERS, optimizer: adam() });
    let bytes: Uint8Array;
    try {
      bytes = await a.checkpoint();
    } finally {
      a.dispose();
    }
    const b = await createTrainer(gpu, mnist, { layers: LAYERS, optimizer: adam(), schedule: { kind: 'cosine', tMax: 3 } });
    try {
      await expect(b.restore(bytes)).rejects.toThrow(/schedule/);
    } finally {
      b.dispose();
    }
  });
});

describe('a non-finite update stops training at its step', () => {
  for (const fusedUpdate of [true, false]) {
    it(`NaN in one optimizer-state value: the loss of that step is finite, the run stops there with DivergenceError and rolls back (${fusedUpdate ? 'fused' : 'one pass'})`, async () => {
      const trainer = await createTrainer(gpu, mnist, { layers: LAYERS, optimizer: adam({ lr: 1e-3 }), fusedUpdate, stepsPerSubmit: 4 });
      try {
        await trainer.fit({ epochs: 1, maxSteps: 5, evaluate: false });
        const before = await trainer.saveState();
        const state = before.optimizerState.map((s) => Float32Array.from(s));
        // exp_avg of one weight of l3 (the layer before train_head): its update makes that weight NaN at once.
        const l3 = trainer.layout.dense[1]!;
        state[0]![l3.weightOffset + 7] = Number.NaN;
        trainer.restoreState({ ...before, optimizerState: state });
        const losses: number[] = [];
        let caught: unknown;
        try {
          await trainer.fit({ epochs: 1, maxSteps: 12, evaluate: false, onBatch: (b) => losses.push(b.loss) });
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(DivergenceError);
        const error = caught as DivergenceError;
        expect(error.step, 'stopped at the first step after the restore').toBe(5);
        expect(error.message).toMatch(/update of step 6 made a weight or the optimizer's state NaN/);
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(trainer.lastGoodStep).toBe(5);
        const weights = await trainer.model.readWeights();
        expect(weights.every(Number.isFinite), 'the rolled-back weights are finite').toBe(true);
        expect(weights).toEqual(before.weights);
      } finally {
        trainer.dispose();
      }
    });
  }
});
