/**
 * The arithmetic of `npm run bench:peers`, apart from the processes: medians and ratios of the
 * timed loops, and whether the losses say every library trained the same model on the same data.
 */
import type { RunnerResult } from './common.ts';

export const PEERS_SCHEMA = 'webgpu-mnist-peers/1';

/**
 * Loss agreement, step by step, with the reference run (the engine's first). Every run starts from
 * the same float32 weights on the same float32 batches, so the only differences are float32
 * rounding in different summation orders and what the steps make of them, which grows: measured
 * on lavapipe (bench/RESULTS.md, 2026-12-01), step 1 is bit-identical in all three, TensorFlow.js
 * stays within 1.4e-6 over 300 steps and jax-js within 1.1e-4 (reached after step 210); the
 * engine itself, started from an init moved by one ulp, drifts 2.4e-7 for 60 steps, 1.1e-5 by step
 * 150 and 2.7e-4 by step 300 — this trajectory amplifies rounding about a thousandfold. So the
 * tolerance grows with the step: 1e-5 at the start, doubling every 40 steps (1.8e-3 at step 300).
 * At its worst step the one-ulp drift uses 15% of it, jax-js 7%, TensorFlow.js 2%. What is not the
 * same work shows far above it: the next batch's loss differs by 1.2e-2 (median), and a learning
 * rate 1% off (0.0101) or momentum 0.49 exceed it 2.6× and 4.6× within 20 steps (the smoke test's
 * length), 17× and 28× over 300. Calibrated to 300 steps; a much longer run drifts faster than the
 * envelope grows.
 */
export const TOLERANCE_AT_START = 1e-5;
export const TOLERANCE_DOUBLING_STEPS = 40;

/** The |Δ loss| allowed at `step` (1-based). */
export function stepTolerance(step: number): number {
  return TOLERANCE_AT_START * 2 ** (step / TOLERANCE_DOUBLING_STEPS);
}

export interface Run extends RunnerResult {
  /** 1-based round of the alternation */
  readonly repeat: number;
  readonly msPerStep: number;
}

export interface LossSummary {
  readonly first: number;
  readonly mean: number;
  /** mean of the last 5 steps (or fewer) */
  readonly lastFive: number;
  readonly last: number;
}

export interface LibrarySummary {
  readonly library: string;
  readonly version: string;
  readonly adapter: string;
  readonly runs: number;
  readonly trainSeconds: number[];
  readonly medianTrainSeconds: number;
  readonly medianMsPerStep: number;
  readonly medianTrainCpuSeconds: number;
  readonly medianUploadSeconds: number;
  readonly medianWarmupSeconds: number;
  readonly losses: LossSummary;
}

export interface Ratio {
  readonly peer: string;
  /** median peer seconds / median engine seconds: how many times faster the engine is */
  readonly ofMedians: number;
  /** the same, within each round of the alternation (the runs closest in time, so under the most similar load) */
  readonly perRepeat: number[];
  readonly medianPerRepeat: number;
  /** median peer CPU seconds / median engine CPU seconds in the timed loop: the ratio of the work, little moved by other load */
  readonly cpuOfMedians: number;
}

export interface LossComparison {
  readonly library: string;
  readonly repeat: number;
  readonly firstStepDiff: number;
  readonly maxAbsDiff: number;
  /** the step (1-based) where |Δ| is largest */
  readonly maxAtStep: number;
  /** max over the steps of |Δ| / stepTolerance(step): ≤ 1 passes */
  readonly worstToleranceRatio: number;
  readonly worstAtStep: number;
  readonly meanDiff: number;
  readonly ok: boolean;
}

export interface Agreement {
  readonly reference: string;
  readonly tolerance: string;
  readonly comparisons: LossComparison[];
  readonly agree: boolean;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

export function lossSummary(losses: readonly number[]): LossSummary {
  return { first: losses[0]!, mean: mean(losses), lastFive: mean(losses.slice(-5)), last: losses[losses.length - 1]! };
}

export function summarize(runs: readonly Run[]): LibrarySummary[] {
  const libraries = [...new Set(runs.map((r) => r.library))];
  return libraries.map((library) => {
    const own = runs.filter((r) => r.library === library);
    return {
      library,
      version: own[0]!.version,
      adapter: own[0]!.adapter,
      runs: own.length,
      trainSeconds: own.map((r) => r.trainSeconds),
      medianTrainSeconds: median(own.map((r) => r.trainSeconds)),
      medianMsPerStep: median(own.map((r) => r.msPerStep)),
      medianTrainCpuSeconds: median(own.map((r) => r.trainCpuSeconds)),
      medianUploadSeconds: median(own.map((r) => r.uploadSeconds)),
      medianWarmupSeconds: median(own.map((r) => r.warmupSeconds)),
      losses: lossSummary(own[0]!.losses),
    };
  });
}

/** The engine against each peer; empty without an engine run. */
export function ratios(runs: readonly Run[]): Ratio[] {
  const engine = runs.filter((r) => r.library === 'engine');
  if (engine.length === 0) return [];
  const engineMedian = median(engine.map((r) => r.trainSeconds));
  const peers = [...new Set(runs.map((r) => r.library))].filter((l) => l !== 'engine');
  return peers.map((peer) => {
    const own = runs.filter((r) => r.library === peer);
    const perRepeat = own.flatMap((r) => {
      const e = engine.find((x) => x.repeat === r.repeat);
      return e ? [r.trainSeconds / e.trainSeconds] : [];
    });
    return {
      peer,
      ofMedians: median(own.map((r) => r.trainSeconds)) / engineMedian,
      perRepeat,
      medianPerRepeat: median(perRepeat),
      cpuOfMedians: median(own.map((r) => r.trainCpuSeconds)) / median(engine.map((r) => r.trainCpuSeconds)),
    };
  });
}

/** Every run's per-step losses against the reference run's (the engine's first, else the first run). */
export function agreement(runs: readonly Run[]): Agreement {
  const reference = runs.find((r) => r.library === 'engine') ?? runs[0]!;
  const ref = reference.losses;
  const comparisons = runs
    .filter((r) => r !== reference)
    .map((r) => {
      let maxAbsDiff = 0;
      let maxAtStep = 0;
      let worstToleranceRatio = r.losses.length === ref.length ? 0 : Infinity;
      let worstAtStep = 0;
      for (let i = 0; i < Math.min(ref.length, r.losses.length); i++) {
        // NaN (a diverged or broken run) must fail, not slip through a comparison.
        const d = Number.isNaN(r.losses[i]! - ref[i]!) ? Infinity : Math.abs(r.losses[i]! - ref[i]!);
        if (d > maxAbsDiff) [maxAbsDiff, maxAtStep] = [d, i + 1];
        const ratio = d / stepTolerance(i + 1);
        if (ratio > worstToleranceRatio) [worstToleranceRatio, worstAtStep] = [ratio, i + 1];
      }
      const firstStepDiff = Math.abs(r.losses[0]! - ref[0]!);
      const meanDiff = Math.abs(mean(r.losses) - mean(ref));
      const ok = worstToleranceRatio <= 1;
      return { library: r.library, repeat: r.repeat, firstStepDiff, maxAbsDiff, maxAtStep, worstToleranceRatio, worstAtStep, meanDiff, ok };
    });
  return {
    reference: `${reference.library} run ${reference.repeat}`,
    tolerance: `|Δ loss| at step s ≤ ${TOLERANCE_AT_START} · 2^(s/${TOLERANCE_DOUBLING_STEPS})`,
    comparisons,
    agree: comparisons.every((c) => c.ok),
  };
}

const fixed = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const exp = (v: number): string => (Number.isFinite(v) ? v.toExponential(1) : '–');

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
}

/** The summary a person reads: seconds, ratios, losses, agreement. */
export function formatSummary(libraries: readonly LibrarySummary[], rs: readonly Ratio[], a: Agreement, steps: number): string {
  const lines = [
    ...table([
      ['library', 'train s (median)', 'ms/step', 'runs (s)', 'CPU s', 'upload s', 'warm-up s', 'loss 1st', 'loss mean', 'loss last 5'],
      ...libraries.map((l) => [
        l.library,
        fixed(l.medianTrainSeconds, 2),
        fixed(l.medianMsPerStep, 1),
        l.trainSeconds.map((s) => fixed(s, 2)).join(', '),
        fixed(l.medianTrainCpuSeconds, 1),
        fixed(l.medianUploadSeconds, 2),
        fixed(l.medianWarmupSeconds, 2),
        fixed(l.losses.first, 4),
        fixed(l.losses.mean, 4),
        fixed(l.losses.lastFive, 4),
      ]),
    ]),
    '',
    ...rs.map(
      (r) =>
        `engine vs ${r.peer}: ${fixed(r.ofMedians, 2)}× faster (medians of ${steps} steps); ` +
        `per round ${r.perRepeat.map((x) => fixed(x, 2)).join(', ')} (median ${fixed(r.medianPerRepeat, 2)}×); CPU time ${fixed(r.cpuOfMedians, 2)}×`,
    ),
    '',
    `losses against ${a.reference} (tolerance ${a.tolerance}):`,
    ...a.comparisons.map(
      (c) =>
        `  ${c.library} run ${c.repeat}: step 1 |Δ| ${exp(c.firstStepDiff)}, max |Δ| ${exp(c.maxAbsDiff)} (step ${c.maxAtStep}), ` +
        `|Δ mean| ${exp(c.meanDiff)}; worst |Δ|/tolerance ${fixed(c.worstToleranceRatio, 3)} (step ${c.worstAtStep}) ${c.ok ? 'ok' : 'DISAGREE'}`,
    ),
    a.agree ? 'losses agree: the same work' : 'LOSSES DISAGREE: not the same work',
  ];
  return lines.join('\n');
}
