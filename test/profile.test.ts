/**
 * Trainer.profileStep(): one training step timed per dispatch (GPU timestamps where the device
 * has `timestamp-query`, else only the step's wall-clock time), leaving no trace: a run profiled
 * between and inside its fit() calls ends with exactly the weights of a run never profiled. Both
 * paths are run: a device that asked for timestamps (lavapipe may or may not offer them) and one
 * that did not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeDevice, datasetFrom, mlp, sgd, Trainer, type Device, type MnistLike, type StepProfile } from '../src/node.ts';
import { Rng } from '../src/model/rng.ts';

const LAYERS = [20, 32, 16, 3];

function data(): MnistLike {
  const rng = new Rng(5);
  const split = (count: number) => {
    const labels = Uint8Array.from({ length: count }, () => rng.nextBelow(3));
    const features = new Uint8Array(count * 20);
    for (let i = 0; i < count; i++) for (let f = 0; f < 20; f++) features[i * 20 + f] = (f % 3 === labels[i] ? 180 : 0) + rng.nextBelow(60);
    return datasetFrom({ features, labels, featureCount: 20, classes: 3 });
  };
  return { train: split(96), test: split(40) };
}

function trainer(device: Device, d: MnistLike, fusedUpdate = true): Promise<Trainer> {
  return Trainer.create(device, {
    model: mlp(LAYERS),
    optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
    train: d.train,
    test: d.test,
    batchSize: 16,
    seed: 3,
    fusedUpdate,
    // Short submits, so a pause lands mid-epoch.
    stepsPerSubmit: 2,
    maxInFlight: 1,
  });
}

function checkProfile(p: StepProfile, expectTimestamps: boolean, dispatches: number): void {
  expect(p.timestamps).toBe(expectTimestamps);
  expect(p.rows).toBe(16);
  expect(p.dispatches).toHaveLength(dispatches);
  expect(p.dispatches[0]!.label).toBe('gather');
  expect(p.dispatches.map((d) => d.label)).toContain('l1.forward');
  if (p.timestamps) {
    for (const d of p.dispatches) expect(Number.isFinite(d.ms) && d.ms >= 0, `${d.label}: ${d.ms} ms`).toBe(true);
    expect(p.totalMs).toBeCloseTo(
      p.dispatches.reduce((a, d) => a + d.ms, 0),
      9,
    );
  } else {
    for (const d of p.dispatches) expect(d.ms).toBeNaN();
    expect(p.totalMs).toBeGreaterThan(0);
  }
}

describe('Trainer.profileStep', () => {
  let timed: Device;
  let plain: Device;
  const d = data();
  beforeAll(async () => {
    timed = await createNodeDevice({ timestamps: true, label: 'profile-timed' });
    plain = await createNodeDevice({ label: 'profile-plain' });
  });
  afterAll(() => {
    timed?.destroy();
    plain?.destroy();
  });

  it('times every dispatch of a step where the device has timestamps, and changes nothing', async () => {
    console.log(`profile: the adapter ${timed.adapter.features.includes('timestamp-query') ? 'has' : 'has no'} timestamp-query`);
    const reference = await trainer(timed, d);
    await reference.fit({ epochs: 2 });
    const expected = await reference.checkpoint();
    reference.dispose();

    const t = await trainer(timed, d);
    checkProfile(await t.profileStep(), timed.hasTimestamps, await t.dispatchesPerStep());
    const controller = new AbortController();
    let profiledInEpoch: StepProfile | undefined;
    await t.fit({
      epochs: 2,
      signal: controller.signal,
      onEpoch: async () => {
        profiledInEpoch = await t.profileStep();
      },
      onBatch: (b) => {
        if (b.step === 7) controller.abort();
      },
    });
    expect(profiledInEpoch, 'profiled from onEpoch').toBeDefined();
    checkProfile(profiledInEpoch!, timed.hasTimestamps, await t.dispatchesPerStep());
    profiledInEpoch = undefined;
    // Paused mid-epoch: profiled between fit() calls.
    expect(t.stepInEpoch).toBeGreaterThan(0);
    checkProfile(await t.profileStep(), timed.hasTimestamps, await t.dispatchesPerStep());
    await t.fit({ epochs: 2, onEpoch: async () => void (profiledInEpoch = await t.profileStep()) });
    expect(profiledInEpoch, 'profiled from onEpoch').toBeDefined();
    expect(await t.checkpoint(), 'the profiled run ends with the weights, momentum and position of the unprofiled one').toEqual(expected);
    t.dispose();
  });

  it('without timestamps reports the step’s wall-clock time only (also with the separate update pass)', async () => {
    expect(plain.hasTimestamps).toBe(false);
    for (const fused of [true, false]) {
      const t = await trainer(plain, d, fused);
      const before = await t.checkpoint();
      checkProfile(await t.profileStep(), false, await t.dispatchesPerStep());
      expect(await t.checkpoint(), `fused ${fused}: the state is untouched`).toEqual(before);
      t.dispose();
    }
  });

  it('refuses while fit() is running', async () => {
    const t = await trainer(plain, d);
    const fit = t.fit({ epochs: 1 });
    await expect(t.profileStep()).rejects.toThrow(/while fit\(\) is running/);
    await fit;
    t.dispose();
  });
});
