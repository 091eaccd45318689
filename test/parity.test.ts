import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../src/runtime/device.ts';
import { layersOfStateDict } from '../src/model/layout.ts';
import type { Tensor } from '../src/model/io/safetensors.ts';
import { ROWS_TUNING, SPLIT_TUNING, TILES_TUNING } from '../src/model/programs/tuning.ts';
import { createTrainer, golden, goldenJson, realMnist, relativeChangeError, testGpu, type TestRun } from './helpers.ts';

// Parity with PyTorch (test/golden/README.md says how the files were made): from the same
// starting weights, without shuffling, K steps here must change the weights as K steps of
// torch.optim.SGD did, to a relative error of 1e-3 per tensor.

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

async function trainFromGolden(overrides: TestRun & { maxSteps: number }): Promise<{ weights: Map<string, Tensor>; losses: number[] }> {
  const init = golden('parity-init.safetensors');
  const { maxSteps, ...run } = overrides;
  const trainer = await createTrainer(gpu, await realMnist(), {
    layers: layersOfStateDict(init)!,
    shuffle: false,
    stepsPerSubmit: 7, // not a divisor of the step count: chunks of uneven length
    init,
    initName: 'parity-init.safetensors',
    ...run,
  });
  try {
    const losses: number[] = [];
    await trainer.fit({ epochs: 1, maxSteps, evaluate: false, onBatch: (b) => losses.push(b.loss) });
    return { weights: await trainer.stateDict(), losses };
  } finally {
    trainer.dispose();
  }
}

const cases = [
  {
    name: 'batch 64, lr 0.01, momentum 0.5, 40 steps',
    after: 'parity-after-40.safetensors',
    losses: 'parity-losses-40.json',
    config: { batchSize: 64, lr: 0.01, momentum: 0.5, maxSteps: 40 },
  },
  {
    name: 'batch 100, lr 0.05, momentum 0.9, 25 steps',
    after: 'parity-b100-after-25.safetensors',
    losses: 'parity-b100-losses-25.json',
    config: { batchSize: 100, lr: 0.05, momentum: 0.9, maxSteps: 25 },
  },
];

describe('parity with PyTorch', () => {
  for (const c of cases) {
    for (const [fusedUpdate, tuning] of [
      [true, TILES_TUNING],
      [false, TILES_TUNING],
      [true, ROWS_TUNING],
      [true, SPLIT_TUNING],
      [false, SPLIT_TUNING],
    ] as const) {
      it(`${c.name} (${fusedUpdate ? 'SGD fused into dW' : 'SGD as one pass'}, ${tuning.matmul.variant} matmuls)`, async () => {
        const init = golden('parity-init.safetensors');
        const expected = golden(c.after);
        const { weights, losses } = await trainFromGolden({ ...c.config, fusedUpdate, tuning });
        expect(losses).toHaveLength(c.config.maxSteps);
        const torchLosses = goldenJson<number[]>(c.losses);
        for (let i = 0; i < losses.length; i++) expect(Math.abs(losses[i]! - torchLosses[i]!), `loss of step ${i + 1}`).toBeLessThan(1e-4);
        for (const [name, t] of expected) {
          const error = relativeChangeError(init.get(name)!, weights.get(name)!, t);
          expect(error, `${name}: relative error of the change from the init`).toBeLessThanOrEqual(1e-3);
        }
      });
    }
  }
});
