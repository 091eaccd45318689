import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../src/model/io/safetensors.ts';
import { layersOfStateDict } from '../src/model/layout.ts';
import { checkOptimizer } from '../src/model/optimizers.ts';
import { lrSchedule, scheduledLr, type LrScheduleOptions } from '../src/model/schedules.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { createTrainer, golden, goldenJson, realMnist, relativeChangeError, takeSplit, testGpu } from './helpers.ts';

// Parity with PyTorch for every optimizer and schedule case of test/golden/optimizers.json
// (test/golden/README.md: the rules, the schedules and how the files were made): from the same
// init, unshuffled batches of 64 over the case's training subset, the case's step count through the
// real training step must change every tensor as torch.optim did, to a relative error of 1e-3
// (‖Δours − Δtorch‖₂ / ‖Δtorch‖₂), next to which the test prints torch's own float32-vs-float64 spread.

interface GoldenCase {
  readonly name: string;
  readonly optimizer: unknown;
  readonly schedule: LrScheduleOptions;
  readonly steps: number;
  readonly batchSize: number;
  readonly trainSubset: number;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly files: { readonly after: string; readonly losses: string };
  readonly lrPerStep: readonly number[];
  readonly spread: { readonly max: number };
}

const manifest = goldenJson<{ cases: GoldenCase[] }>('optimizers.json');
const TOLERANCE = 1e-3;

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('the schedules give each step the lr torch used', () => {
  for (const c of manifest.cases) {
    it(c.name, () => {
      const o = checkOptimizer(c.optimizer);
      const s = lrSchedule(c.schedule);
      const lrs = c.lrPerStep.map((_, step) => scheduledLr(o.lr, s, Math.floor(step / c.stepsPerEpoch), step));
      lrs.forEach((lr, i) => expect(Math.abs(lr - c.lrPerStep[i]!), `step ${i}`).toBeLessThanOrEqual(1e-12 * c.lrPerStep[i]!));
    });
  }
});

describe('optimizer parity with PyTorch through the training step', () => {
  for (const c of manifest.cases) {
    for (const fusedUpdate of [true, false]) {
      // The unfused reference pass for a few cases: one of each rule.
      if (!fusedUpdate && !['adam-wd', 'adamw', 'sgd-dampening-wd', 'sgd-nesterov'].includes(c.name)) continue;
      it(`${c.name} (${fusedUpdate ? 'fused' : 'one pass'}), ${c.steps} steps`, async () => {
        const init = golden('parity-init.safetensors');
        const mnist = await realMnist();
        const train = c.trainSubset < mnist.train.count ? takeSplit(mnist.train, c.trainSubset) : mnist.train;
        const trainer = await createTrainer(
          gpu,
          { train, test: mnist.test },
          {
            layers: layersOfStateDict(init)!,
            optimizer: checkOptimizer(c.optimizer),
            schedule: c.schedule,
            batchSize: c.batchSize,
            shuffle: false,
            fusedUpdate,
            stepsPerSubmit: 7, // not a divisor of the step count: chunks of uneven length
            init,
          },
        );
        const losses: number[] = [];
        let weights: Map<string, Tensor>;
        try {
          expect(trainer.stepsPerEpoch).toBe(c.stepsPerEpoch);
          await trainer.fit({ epochs: c.epochs, maxSteps: c.steps, evaluate: false, onBatch: (b) => losses.push(b.loss) });
          weights = await trainer.stateDict();
        } finally {
          trainer.dispose();
        }
        const theirs = golden(c.files.after);
        const errors = [...init].map(([name, t]) => [name, relativeChangeError(t, weights.get(name)!, theirs.get(name)!)] as const);
        const worst = Math.max(...errors.map(([, e]) => e));
        console.log(
          `${c.name}${fusedUpdate ? '' : ' (one pass)'}: max relative change error ${worst.toExponential(2)} ` +
            `(torch float32 vs float64: ${c.spread.max.toExponential(2)}; tolerance ${TOLERANCE})`,
        );
        for (const [name, e] of errors) expect(e, name).toBeLessThanOrEqual(TOLERANCE);
        const torchLosses = goldenJson<number[]>(c.files.losses);
        expect(losses.length).toBe(c.steps);
        losses.forEach((l, i) => expect(Math.abs(l - torchLosses[i]!), `loss of step ${i}`).toBeLessThanOrEqual(1e-4));
      });
    }
  }
});
