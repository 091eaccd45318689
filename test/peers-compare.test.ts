/**
 * The arithmetic of `npm run bench:peers` (bench/peers/compare.ts), without a GPU: ratios come from
 * medians and from the runs of one round, and the loss check passes float32 noise but catches
 * runs that did not do the same work.
 */
import { describe, expect, it } from 'vitest';
import { agreement, median, ratios, stepTolerance, summarize, type Run } from '../bench/peers/compare.ts';

function run(library: string, repeat: number, trainSeconds: number, losses: number[]): Run {
  return {
    library,
    repeat,
    version: '1',
    adapter: 'a',
    steps: losses.length,
    warmupSteps: 1,
    startSeconds: 0,
    uploadSeconds: 0.1,
    warmupSeconds: 0.2,
    trainSeconds,
    trainCpuSeconds: trainSeconds * 2,
    losses,
    notes: [],
    msPerStep: (trainSeconds / losses.length) * 1000,
  };
}

const base = Array.from({ length: 50 }, (_, i) => 2.3 - 0.01 * i + 0.05 * Math.sin(i));

describe('bench:peers comparison', () => {
  it('takes medians of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('reports the engine against each peer, of the medians and round by round', () => {
    const runs = [
      run('engine', 1, 10, base),
      run('tfjs', 1, 40, base),
      run('engine', 2, 20, base),
      run('tfjs', 2, 50, base),
      run('engine', 3, 12, base),
      run('tfjs', 3, 36, base),
    ];
    const [r] = ratios(runs);
    expect(r!.peer).toBe('tfjs');
    expect(r!.ofMedians).toBeCloseTo(40 / 12);
    expect(r!.perRepeat).toEqual([4, 2.5, 3]);
    expect(r!.medianPerRepeat).toBe(3);
    expect(r!.cpuOfMedians).toBeCloseTo(40 / 12);
    const [engine] = summarize(runs);
    expect(engine).toMatchObject({ library: 'engine', runs: 3, trainSeconds: [10, 20, 12], medianTrainSeconds: 12 });
    expect(ratios([run('tfjs', 1, 1, base)])).toEqual([]);
  });

  it('passes float32 noise and fails another trajectory, a shifted batch, a short run and NaN', () => {
    const noisy = base.map((l, i) => l + (i % 2 ? 1 : -1) * 2e-6 * (1 + i / 20));
    expect(agreement([run('engine', 1, 1, base), run('tfjs', 1, 1, noisy), run('engine', 2, 1, base)]).agree).toBe(true);

    const drift = base.map((l, i) => l + 2e-4 * (i / 50)); // e.g. another learning rate: grows step by step
    const shifted = [...base.slice(1), base[0]!]; // the batches one step off
    const short = base.slice(0, 49);
    const nan = base.map((l, i) => (i === 30 ? NaN : l));
    for (const bad of [drift, shifted, short, nan]) {
      const a = agreement([run('engine', 1, 1, base), run('jax', 1, 1, bad)]);
      expect(a.agree).toBe(false);
      expect(a.comparisons[0]!.ok).toBe(false);
    }
    const a = agreement([run('engine', 1, 1, base), run('jax', 1, 1, drift)]);
    const c = a.comparisons[0]!;
    expect(c.worstToleranceRatio).toBeGreaterThan(1);
    expect(c.maxAbsDiff).toBeGreaterThan(stepTolerance(c.worstAtStep));
    expect(c.firstStepDiff).toBe(0);
    expect(stepTolerance(0)).toBe(1e-5);
    expect(stepTolerance(300)).toBeCloseTo(1e-5 * 2 ** 7.5);
    expect(a.reference).toBe('engine run 1');
  });
});
