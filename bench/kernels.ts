/**
 * Kernel microbenchmarks (browser-safe core; bench-kernels.ts is the Node CLI). Each of the
 * engine's kernels at the MLP's shapes, plus one large matmul, made exactly as src/model/programs make
 * them (same specs, overrides, grids, flat parameter buffer and offsets), then:
 *   1. check: one dispatch on random inputs with poisoned outputs, compared with a float64 CPU
 *      reference (reference.ts); a kernel that fails is reported and not timed;
 *   2. bench: passes of `reps` back-to-back dispatches (each writes what the next one writes, so
 *      they run one after another, as in a training step), timed with timestamp queries at the
 *      pass's ends when the device has them, else by wall clock from submit to
 *      onSubmittedWorkDone; the median pass over `samples` gives the time per dispatch.
 * The cases are kernel-cases.ts, their timing kernel-timing.ts, whole steps kernel-steps.ts.
 */
import { cases } from './kernel-cases.ts';
import { CaseContext } from './kernel-context.ts';
import { replaySteps, stepBreakdown } from './kernel-steps.ts';
import { submitPasses, timePrepared } from './kernel-timing.ts';
import type { Mismatch } from './reference.ts';
import { describeTuning, engineTunings, variantOf } from './tunings.ts';
import { fusesUpdate, type Grid, type Tuning, tuningFor } from './engine.ts';
import { type AdapterSummary, type Device as Gpu, InputError, SEED_LAYERS } from '../src/index.ts';

export const KERNELS_SCHEMA = 'webgpu-mnist-kernels/1';

export interface KernelBenchOptions {
  readonly layers: readonly number[];
  readonly batchSize: number;
  /** edge of the large square matmul (M = N = K); 0 skips it */
  readonly large: number;
  /** use timestamp queries when the device has them */
  readonly timestamps: boolean;
  /** aim for timed passes this long */
  readonly passSeconds: number;
  /** timed passes per kernel (fewer when a pass is long: see caseSeconds) */
  readonly samples: number;
  /** stop adding passes once a kernel has had this much time (at least 3 passes) */
  readonly caseSeconds: number;
  readonly maxReps: number;
  /** only the cases whose name contains this */
  readonly only?: string;
  /** which matmul variant to time, or `all` (the trainer's choice for the adapter first) */
  readonly variant: string;
  /** also replay whole training steps (TrainProgram) back to back, per variant */
  readonly replay: boolean;
}

/** 4096³ on a GPU; 1024³ on a software adapter, where 4096³ would take minutes a dispatch. */
export function defaultLarge(adapter: AdapterSummary): number {
  return adapter.isFallback ? 1024 : 4096;
}

export function defaultKernelOptions(adapter: AdapterSummary): KernelBenchOptions {
  return {
    layers: SEED_LAYERS,
    batchSize: 64,
    large: defaultLarge(adapter),
    timestamps: true,
    passSeconds: adapter.isFallback ? 0.1 : 0.02,
    samples: 9,
    caseSeconds: adapter.isFallback ? 1.5 : 0.5,
    maxReps: 4096,
    variant: 'all',
    replay: true,
  };
}

/** Options as given on the command line, plain JSON (they travel into the page); kernelOptions fills in the rest. */
export type KernelFlags = Partial<Omit<KernelBenchOptions, 'layers'>>;

export function kernelOptions(given: KernelFlags, adapter: AdapterSummary): KernelBenchOptions {
  return { ...defaultKernelOptions(adapter), ...given };
}

export interface CaseResult {
  readonly name: string;
  readonly kernel: string;
  /** 1-based dense layer, for the MLP-shape matmuls */
  readonly layer?: number;
  /** matmul variant (`tiles`, `rows`, …: tunings.ts) */
  readonly variant?: string;
  readonly what: string;
  readonly grid: Grid;
  readonly flops: number;
  readonly bytes: number;
  readonly check: Mismatch;
  /** absent when the check failed */
  readonly timing?: {
    readonly method: 'timestamp-query' | 'wall-clock';
    readonly reps: number;
    readonly samples: number;
    /** median over passes of (pass time / reps) */
    readonly microsecondsPerDispatch: number;
    readonly minMicrosecondsPerDispatch: number;
    /** wall clock, submit to onSubmittedWorkDone, over all passes' dispatches: includes submit latency */
    readonly wallMicrosecondsPerDispatch: number;
    readonly gflopsPerSecond: number;
    readonly gbPerSecond: number;
  };
}

export interface StepBreakdown {
  readonly variant: string;
  readonly trainerDefault: boolean;
  readonly fusedUpdate: boolean;
  readonly dispatches: number;
  /** Σ over the step's dispatches of each one's median time */
  readonly microseconds: number;
  readonly parts: readonly { readonly name: string; readonly microseconds: number; readonly share: number }[];
  /** the step's dispatches that were not timed (filtered out or failed) */
  readonly missing: readonly string[];
}

/** Whole training steps (the train program on synthetic data) encoded back to back in one pass: GPU time per step without the trainer's host work. */
export interface StepReplay {
  readonly variant: string;
  readonly trainerDefault: boolean;
  readonly fusedUpdate: boolean;
  readonly dispatches: number;
  /** every replayed step's loss was finite */
  readonly finite: boolean;
  /** per replayed step (`microsecondsPerDispatch` is µs per step here), GFLOP/s and GB/s of the whole step */
  readonly timing: NonNullable<CaseResult['timing']>;
}

export interface KernelBenchResult {
  readonly schema: typeof KERNELS_SCHEMA;
  readonly date: string;
  readonly runtime: 'chrome' | 'node';
  readonly environment: Readonly<Record<string, string | number>>;
  readonly command: string;
  readonly adapter: AdapterSummary;
  readonly isFallback: boolean;
  readonly hasTimestamps: boolean;
  readonly options: KernelBenchOptions;
  readonly variants: readonly { readonly name: string; readonly tuning: string; readonly trainerDefault: boolean }[];
  readonly cases: readonly CaseResult[];
  readonly steps: readonly StepBreakdown[];
  readonly replays: readonly StepReplay[];
  readonly allChecksPassed: boolean;
}

/** A matmul variant to bench: one of the engine's tunings. */
export interface Variant {
  /** tunings.ts variantOf: `tiles`, `rows`, … */
  readonly name: string;
  readonly tuning: Tuning;
  /** the tuning the trainer picks for this adapter (tuningFor) */
  readonly trainerDefault: boolean;
}

/** The trainer's tuning for this adapter first, then the engine's others (only `choice` unless it is `all`). */
export function variantsFor(gpu: Gpu, choice = 'all'): Variant[] {
  const trainer = tuningFor(gpu.adapter);
  const all = [trainer, ...engineTunings().filter((t) => variantOf(t) !== variantOf(trainer))];
  return all
    .filter((t) => choice === 'all' || variantOf(t) === choice)
    .map((tuning) => ({ name: variantOf(tuning), tuning, trainerDefault: tuning === trainer }));
}

export interface KernelRunContext {
  readonly runtime: KernelBenchResult['runtime'];
  readonly environment: KernelBenchResult['environment'];
  readonly command: string;
  readonly log?: (line: string) => void;
}

/** Checks and times every case; the caller owns `gpu` (acquired with `{ timestamps: true }` to get timestamp queries). */
export async function runKernelBench(gpu: Gpu, o: KernelBenchOptions, context: KernelRunContext): Promise<KernelBenchResult> {
  const log = context.log ?? (() => {});
  const useTimestamps = o.timestamps && gpu.hasTimestamps;
  const variants = variantsFor(gpu, o.variant);
  if (variants.length === 0)
    throw new InputError(`this engine has no '${o.variant}' matmul variant (it has ${engineTunings().map(variantOf).join(', ')})`);
  const results: CaseResult[] = [];
  let seed = 1;
  for (const spec of cases(o, variants)) {
    seed++;
    if (o.only && !spec.name.includes(o.only)) continue;
    const ctx = new CaseContext(gpu, seed);
    try {
      const prepared = await spec.prepare(ctx);
      await submitPasses(gpu, prepared, 1, 1);
      const check = await prepared.check();
      const base = {
        name: spec.name,
        kernel: spec.kernel,
        ...(spec.layer ? { layer: spec.layer } : {}),
        ...(spec.variant ? { variant: spec.variant } : {}),
        what: spec.what,
        grid: prepared.grid,
        flops: spec.flops,
        bytes: spec.bytes,
        check,
      };
      if (!check.ok) {
        const w = check.worst;
        log(`${spec.name}: CHECK FAILED${w ? ` at ${w.what}[${w.index}]: got ${w.got}, expected ${w.want}` : ''}; not timed`);
        results.push(base);
        continue;
      }
      const t = await timePrepared(gpu, prepared, o, useTimestamps);
      const seconds = t.microsecondsPerDispatch / 1e6;
      const timing = { ...t, gflopsPerSecond: spec.flops / seconds / 1e9, gbPerSecond: spec.bytes / seconds / 1e9 };
      results.push({ ...base, timing });
      log(
        `${spec.name}: ok (max error ${check.maxAbsError.toExponential(1)}), ${t.microsecondsPerDispatch.toFixed(1)} µs/dispatch (${t.method}, ${t.reps}×${t.samples})`,
      );
    } finally {
      ctx.destroy();
    }
  }
  const replays: StepReplay[] = [];
  if (o.replay && !o.only) {
    for (const v of variants) {
      // each variant's step as its tuning runs it: the update fused or as its own pass
      const r = await replaySteps(gpu, o, v, fusesUpdate(v.tuning), useTimestamps);
      replays.push(r);
      log(
        `training step replay [${v.name}, ${r.fusedUpdate ? 'fused' : 'unfused'} update]: ${(r.timing.microsecondsPerDispatch / 1000).toFixed(2)} ms/step (${r.timing.method}, ${r.timing.reps}×${r.timing.samples})`,
      );
    }
  }
  return {
    schema: KERNELS_SCHEMA,
    date: new Date().toISOString(),
    runtime: context.runtime,
    environment: context.environment,
    command: context.command,
    adapter: gpu.adapter,
    isFallback: gpu.adapter.isFallback,
    hasTimestamps: gpu.hasTimestamps,
    options: o,
    variants: variants.map((v) => ({ name: v.name, tuning: describeTuning(v.tuning), trainerDefault: v.trainerDefault })),
    cases: results,
    steps: variants.flatMap((v) => [stepBreakdown(o, results, v, true), stepBreakdown(o, results, v, false)]),
    replays,
    allChecksPassed: results.every((r) => r.check.ok) && replays.every((r) => r.finite),
  };
}
