/**
 * Learning-rate schedules, as torch.optim.lr_scheduler steps them (test/golden/README.md): StepLR
 * and CosineAnnealingLR once per epoch, the linear warm-up (LinearLR from 1/W) once per batch; the
 * lr of step s (global, from 0) in epoch e is base(e) · warmup(s). Plain validated objects, as the
 * optimizers: a checkpoint records the schedule, and the position (epoch, global step) with it.
 * The trainer computes each step's lr here, in float64, when it writes an epoch's step table.
 */
import { InputError } from '../runtime/errors.ts';

export type LrSchedule =
  | { readonly kind: 'constant'; readonly warmupSteps: number }
  /** lr · gamma^⌊epoch / stepSize⌋ (StepLR) */
  | { readonly kind: 'step'; readonly stepSize: number; readonly gamma: number; readonly warmupSteps: number }
  /** etaMin + (lr − etaMin)·(1 + cos(π·epoch / tMax))/2 (CosineAnnealingLR; past tMax it rises again, as torch's) */
  | { readonly kind: 'cosine'; readonly tMax: number; readonly etaMin: number; readonly warmupSteps: number };

export type LrScheduleOptions =
  | { readonly kind: 'constant'; readonly warmupSteps?: number }
  | { readonly kind: 'step'; readonly stepSize: number; readonly gamma?: number; readonly warmupSteps?: number }
  | { readonly kind: 'cosine'; readonly tMax: number; readonly etaMin?: number; readonly warmupSteps?: number };

export const CONSTANT_LR: LrSchedule = Object.freeze({ kind: 'constant', warmupSteps: 0 });

function integer(name: string, v: unknown, min: number): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new InputError(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
  return v as number;
}

function nonNegative(name: string, v: unknown, positive = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (positive && v === 0)) {
    throw new InputError(`${name} must be a finite ${positive ? 'positive' : 'non-negative'} number, got ${String(v)}`);
  }
  return v;
}

/** A checked schedule with every field explicit (StepLR's gamma defaults to 0.1 and cosine's etaMin to 0, as torch's). */
export function lrSchedule(o: LrScheduleOptions): LrSchedule {
  if (typeof o !== 'object' || o === null)
    throw new InputError("a learning-rate schedule is an object such as { kind: 'cosine', tMax: 10 }");
  const warmupSteps = integer('warm-up steps', o.warmupSteps ?? 0, 0);
  switch (o.kind) {
    case 'constant':
      return Object.freeze({ kind: 'constant', warmupSteps });
    case 'step':
      return Object.freeze({
        kind: 'step',
        stepSize: integer('the schedule step size (epochs)', o.stepSize, 1),
        gamma: nonNegative('the schedule gamma', o.gamma ?? 0.1, true),
        warmupSteps,
      });
    case 'cosine':
      return Object.freeze({
        kind: 'cosine',
        tMax: integer('the cosine schedule T_max (epochs)', o.tMax, 1),
        etaMin: nonNegative('the cosine schedule eta_min', o.etaMin ?? 0),
        warmupSteps,
      });
    default:
      throw new InputError(`unknown learning-rate schedule ${JSON.stringify((o as { kind?: unknown }).kind)} (constant, step or cosine)`);
  }
}

/** The lr of global step `step` (from 0) in epoch `epoch` (from 0), from the base lr. */
export function scheduledLr(base: number, s: LrSchedule, epoch: number, step: number): number {
  let lr = base;
  if (s.kind === 'step') lr = base * s.gamma ** Math.floor(epoch / s.stepSize);
  else if (s.kind === 'cosine') lr = s.etaMin + ((base - s.etaMin) * (1 + Math.cos((Math.PI * epoch) / s.tMax))) / 2;
  if (s.warmupSteps > 1 && step < s.warmupSteps) lr *= (step + 1) / s.warmupSteps;
  return lr;
}

/** A one-line description, e.g. "cosine T_max 10 eta_min 0, warm-up 100 steps". */
export function describeSchedule(s: LrSchedule): string {
  const base =
    s.kind === 'step'
      ? `step every ${s.stepSize} epochs × ${s.gamma}`
      : s.kind === 'cosine'
        ? `cosine T_max ${s.tMax} eta_min ${s.etaMin}`
        : 'constant';
  return s.warmupSteps > 1 ? `${base}, warm-up ${s.warmupSteps} steps` : base;
}
