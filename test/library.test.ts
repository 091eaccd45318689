/**
 * The engine as a library, through its public entry points only: a data set that is not MNIST,
 * made here (3 separable classes of 20 features), with the normalization computed from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeDevice, datasetFrom, InputError, mlp, sgd, Trainer, type Dataset, type Device } from '../src/node.ts';

let device: Device;
beforeAll(async () => {
  device = await createNodeDevice({ label: 'library-test' });
});
afterAll(() => device?.destroy());

/** `count` samples of 3 classes: each class a Gaussian blob around its own centre in 20 dimensions, offset and scaled far from N(0, 1). */
function blobs(count: number, seed: number, type: 'u8' | 'f32'): Dataset {
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const featureCount = 20;
  const centres = [0, 1, 2].map((c) => Array.from({ length: featureCount }, (_, f) => ((c * 7 + f * 3) % 5) - 2));
  const labels = new Uint8Array(count);
  const values = new Float32Array(count * featureCount);
  for (let i = 0; i < count; i++) {
    const c = i % 3;
    labels[i] = c;
    for (let f = 0; f < featureCount; f++) values[i * featureCount + f] = 100 + 20 * (centres[c]![f]! + 0.6 * normal());
  }
  const features = type === 'f32' ? values : Uint8Array.from(values, (v) => Math.max(0, Math.min(255, Math.round(v))));
  return datasetFrom({ features, labels, featureCount, classes: 3, name: `blobs-${type}` });
}

describe('a non-MNIST data set through the public API', () => {
  for (const type of ['f32', 'u8'] as const) {
    it(`trains 3 classes of 20 ${type} features to high accuracy, with the normalization computed from the training set`, async () => {
      const train = blobs(600, 1, type);
      const test = datasetFrom({ ...blobs(300, 2, type), normalization: train.normalization });
      // The computed normalization is the training set's mean/std (≈ 100 and ≈ 30 here, ×1/255 for bytes).
      const scale = type === 'u8' ? 1 / 255 : 1;
      expect(train.normalization.mean).toBeGreaterThan(80 * scale);
      expect(train.normalization.mean).toBeLessThan(120 * scale);
      expect(train.normalization.std).toBeGreaterThan(15 * scale);
      const trainer = await Trainer.create(device, {
        model: mlp([20, 16, 3]),
        optimizer: sgd({ lr: 0.1, momentum: 0.9 }),
        train,
        test,
        batchSize: 32,
        seed: 3,
      });
      try {
        const history = await trainer.fit({ epochs: 5 });
        expect(history.stopped).toBe('completed');
        expect(history.epochs).toHaveLength(5);
        const result = await trainer.evaluate();
        expect(result.count).toBe(300);
        expect(result.accuracy).toBeGreaterThanOrEqual(0.95);
        // predict: any number of rows, probabilities that sum to 1 and agree with the labels.
        const rows = test.features.subarray(0, 7 * 20);
        const probs = await trainer.predict(rows as Float32Array | Uint8Array);
        expect(probs).toHaveLength(7 * 3);
        let agree = 0;
        for (let r = 0; r < 7; r++) {
          const p = Array.from(probs.subarray(r * 3, r * 3 + 3));
          expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
          if (p.indexOf(Math.max(...p)) === test.labels[r]) agree++;
        }
        expect(agree).toBeGreaterThanOrEqual(6);
      } finally {
        trainer.dispose();
      }
    });
  }

  it('refuses a model that does not fit the data, labels out of range and empty sets, in one line each', async () => {
    const train = blobs(60, 1, 'f32');
    await expect(Trainer.create(device, { model: mlp([21, 3]), optimizer: sgd({ lr: 0.1 }), train })).rejects.toThrow(
      'the model takes 21 inputs, but blobs-f32 has 20 features per sample',
    );
    await expect(Trainer.create(device, { model: mlp([20, 4]), optimizer: sgd({ lr: 0.1 }), train })).rejects.toThrow(
      'the model has 4 outputs, but blobs-f32 has 3 classes',
    );
    expect(() => datasetFrom({ features: new Float32Array(4), labels: [0, 3], featureCount: 2, classes: 3 })).toThrow(InputError);
    expect(() => datasetFrom({ features: new Float32Array(0), labels: [], featureCount: 2, classes: 3 })).toThrow('empty');
    expect(() => datasetFrom({ features: new Float32Array(5), labels: [0, 1], featureCount: 2, classes: 3 })).toThrow(
      'do not make 2 samples',
    );
  });
});
