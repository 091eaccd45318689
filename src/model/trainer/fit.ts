/**
 * The training loop behind Trainer.fit(): submit a chunk of steps, keep up to `maxInFlight`
 * chunks queued, decode each one's losses as it comes back, and close epochs (evaluation,
 * onEpoch). Pausing (an aborted signal) lets the chunks in flight finish and be reported, so a
 * later fit() continues from exactly that step.
 */
import { DivergenceError } from '../../runtime/errors.ts';
import type { EvalResult } from './evaluator.ts';
import { divergenceIn, type Chunk, type ChunkStats } from './submit-ring.ts';
import { type Trainer } from './trainer.ts';

export interface BatchReport {
  readonly epoch: number;
  /** global 0-based index of the step */
  readonly step: number;
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number;
  /** the batch's mean cross-entropy */
  readonly loss: number;
  /** correctly classified samples of the batch (before its update) */
  readonly correct: number;
  readonly rows: number;
}

export interface ChunkReport {
  readonly epoch: number;
  /** global index of the chunk's first step */
  readonly firstStep: number;
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number;
  readonly losses: Float32Array;
  readonly correct: Uint32Array;
  readonly samples: number;
  /** training samples per second since the epoch started, GPU work included */
  readonly samplesPerSecond: number;
  readonly epochElapsedSeconds: number;
  /** host time spent encoding and submitting the chunk's command buffer: where the CPU, not the GPU, sets the pace */
  readonly encodeSeconds: number;
}

export interface EpochReport {
  readonly epoch: number;
  readonly steps: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  /** time from the epoch's first submit until its last step's results were back (time paused not counted) */
  readonly seconds: number;
  readonly samplesPerSecond: number;
  /** undefined when there is no test set or `evaluate` was false */
  readonly test: EvalResult | undefined;
  /** the epoch stopped early at `maxSteps` */
  readonly partial: boolean;
}

export interface FitOptions {
  /** the epoch count to reach, in all (default 1): a trainer at epoch 3 given 10 trains 7 more */
  readonly epochs?: number;
  /** stop after this many optimizer steps in all (counted from the start of training) */
  readonly maxSteps?: number;
  /** aborting pauses after the work in flight; fit() again resumes exactly */
  readonly signal?: AbortSignal;
  /** every step's loss, as each command buffer's results come back */
  onBatch?(report: BatchReport): void;
  /** each command buffer's results at once, with timing */
  onChunk?(report: ChunkReport): void;
  /** awaited before training goes on: nothing is in flight then, so it may read or save the state (saveState, checkpoint, profileStep) */
  onEpoch?(report: EpochReport): void | Promise<void>;
  /** evaluate the test set after each epoch (default true when the trainer has one) */
  readonly evaluate?: boolean;
}

export interface FitResult {
  readonly epochs: EpochReport[];
  /** 'paused' when the signal was aborted before the target was reached */
  readonly stopped: 'completed' | 'paused';
  readonly globalStep: number;
}

function checkTarget(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) {
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
  }
}

export async function fitLoop(t: Trainer, o: FitOptions): Promise<FitResult> {
  checkTarget('epochs', o.epochs, 0);
  checkTarget('maxSteps', o.maxSteps, 1);
  if (t.running) throw new Error('fit() is already running');
  t.running = true;
  const epochs = o.epochs ?? 1;
  const done = () => t.epoch >= epochs || (o.maxSteps !== undefined && t.globalStep >= o.maxSteps);
  const paused = () => o.signal?.aborted === true;
  const clock = t.epochClock;
  // Time spent paused between fit() calls is not training time.
  if (t.pausedAt !== undefined) clock.start += performance.now() - t.pausedAt;
  t.pausedAt = undefined;
  const reports: EpochReport[] = [];
  let failure: unknown;
  const finish = (chunk: Chunk, stats: ChunkStats) => {
    const diverged = divergenceIn(chunk, stats);
    if (diverged) throw diverged;
    for (let i = 0; i < chunk.count; i++) {
      const rows = t.rowsAt(chunk.stepInEpoch + i);
      clock.loss += stats.losses[i]! * rows;
      clock.correct += stats.correct[i]!;
      o.onBatch?.({
        epoch: chunk.epoch,
        step: chunk.firstStep + i,
        stepInEpoch: chunk.stepInEpoch + i,
        stepsPerEpoch: t.stepsPerEpoch,
        loss: stats.losses[i]!,
        correct: stats.correct[i]!,
        rows,
      });
    }
    clock.samples += chunk.samples;
    const elapsed = (performance.now() - clock.start) / 1000;
    o.onChunk?.({
      epoch: chunk.epoch,
      firstStep: chunk.firstStep,
      stepInEpoch: chunk.stepInEpoch,
      stepsPerEpoch: t.stepsPerEpoch,
      losses: stats.losses,
      correct: stats.correct,
      samples: chunk.samples,
      samplesPerSecond: clock.samples / Math.max(elapsed, 1e-9),
      epochElapsedSeconds: elapsed,
      encodeSeconds: chunk.encodeSeconds,
    });
  };
  try {
    while (!done() && !paused()) {
      if (t.stepInEpoch === 0 && t.ring.inFlight.length === 0)
        Object.assign(clock, { start: performance.now(), loss: 0, correct: 0, samples: 0 });
      t.prepareEpochOrder();
      const remainingSteps = o.maxSteps === undefined ? Infinity : o.maxSteps - t.globalStep;
      const count = Math.min(t.config.stepsPerSubmit, t.stepsPerEpoch - t.stepInEpoch, remainingSteps);
      await t.submit(count);
      const epochEnds = t.stepInEpoch === t.stepsPerEpoch;
      const stops = done() || epochEnds;
      while (t.ring.inFlight.length >= t.config.maxInFlight || (stops && t.ring.inFlight.length > 0)) {
        const { chunk, stats } = await t.ring.takeOldest();
        finish(chunk, stats);
      }
      if (epochEnds || done()) {
        const seconds = (performance.now() - clock.start) / 1000;
        const evaluate = (o.evaluate ?? true) && t.test !== undefined;
        const report: EpochReport = {
          epoch: t.epoch,
          steps: t.stepInEpoch,
          trainLoss: clock.samples ? clock.loss / clock.samples : NaN,
          trainAccuracy: clock.samples ? clock.correct / clock.samples : NaN,
          seconds,
          samplesPerSecond: clock.samples / Math.max(seconds, 1e-9),
          partial: !epochEnds,
          test: evaluate ? await t.evaluate() : undefined,
        };
        if (epochEnds) t.completeEpoch();
        reports.push(report);
        // Nothing is in flight here: onEpoch may read or save the state (checkpoint()).
        t.atRest = true;
        try {
          await o.onEpoch?.(report);
        } finally {
          t.atRest = false;
        }
      }
    }
    // Paused: what is in flight still finishes and is reported, so the position is exact.
    while (t.ring.inFlight.length > 0) {
      const { chunk, stats } = await t.ring.takeOldest();
      finish(chunk, stats);
    }
  } catch (error) {
    failure = error;
    await t.ring.drain();
  } finally {
    t.running = false;
    if (t.stepInEpoch > 0) t.pausedAt = performance.now();
  }
  if (failure !== undefined) {
    if (failure instanceof DivergenceError) await t.rollBack(failure.step);
    throw failure;
  }
  return { epochs: reports, stopped: done() ? 'completed' : 'paused', globalStep: t.globalStep };
}
