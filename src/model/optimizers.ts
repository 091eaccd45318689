/**
 * Optimizer descriptions: plain, validated, JSON-serializable objects (a checkpoint records
 * them), built by `sgd({...})`, `adam({...})`, `adamw({...})`. Each reproduces torch.optim's rule
 * and defaults (test/golden/README.md writes the rules out); the update itself runs on the GPU,
 * fused into the kernels that produce each layer's weight gradient (shaders/lib/optimizer_update.wgsl),
 * from the fixed hyper-parameters (`hyperValues`) and each step's values (`stepValues`), which are
 * computed here in float64 as torch computes its scalars, and rounded to float32 once.
 */
import type { HyperValues } from '../kernels/records.ts';
import { InputError } from '../runtime/errors.ts';

/** torch.optim.SGD: g = grad + wd·w; buf = g at the first step, then μ·buf + (1 − dampening)·g; w −= lr·(nesterov ? g + μ·buf : buf). */
export interface SgdOptimizer {
  readonly kind: 'sgd';
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
}

/** torch.optim.Adam (`adam`: L2 decay added to the gradient) and torch.optim.AdamW (`adamw`: decoupled decay w −= lr·wd·w). */
export interface AdamOptimizer {
  readonly kind: 'adam' | 'adamw';
  readonly lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
}

export type Optimizer = SgdOptimizer | AdamOptimizer;

export interface SgdOptions {
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  readonly weightDecay?: number;
}

export interface AdamOptions {
  /** default 1e-3 */
  readonly lr?: number;
  /** default [0.9, 0.999] */
  readonly betas?: readonly [number, number];
  /** added after the square root (and after the bias correction of it), default 1e-8 */
  readonly eps?: number;
  /** Adam: L2 penalty added to the gradient, default 0; AdamW: decoupled decay, default 1e-2 */
  readonly weightDecay?: number;
}

function finite(name: string, v: unknown, ok: (v: number) => boolean, range: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new InputError(`${name} must be ${range}, got ${String(v)}`);
  return v;
}

export function checkLearningRate(lr: number): number {
  return finite('learning rate', lr, (v) => v > 0, 'a finite positive number');
}

function checkWeightDecay(v: unknown): number {
  return finite('weight decay', v, (x) => x >= 0, 'a finite non-negative number');
}

function options<T>(o: T, example: string): T {
  if (typeof o !== 'object' || o === null) throw new InputError(`${example.split('(')[0]}() takes an options object, e.g. ${example}`);
  return o;
}

/** torch.optim.SGD's rule and defaults (momentum 0, dampening 0, no Nesterov, no weight decay). */
export function sgd(o: SgdOptions): SgdOptimizer {
  options(o, 'sgd({ lr: 0.01, momentum: 0.5 })');
  const momentum = finite('momentum', o.momentum ?? 0, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const dampening = finite('dampening', o.dampening ?? 0, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const nesterov = o.nesterov ?? false;
  if (typeof nesterov !== 'boolean') throw new InputError(`nesterov must be true or false, got ${String(nesterov)}`);
  if (nesterov && (momentum === 0 || dampening !== 0)) {
    throw new InputError('Nesterov momentum needs a momentum > 0 and zero dampening (as torch.optim.SGD)');
  }
  return Object.freeze({
    kind: 'sgd',
    lr: checkLearningRate(o.lr),
    momentum,
    dampening,
    nesterov,
    weightDecay: checkWeightDecay(o.weightDecay ?? 0),
  });
}

function adamFamily(kind: 'adam' | 'adamw', o: AdamOptions, defaultDecay: number): AdamOptimizer {
  options(o, `${kind}({ lr: 0.001 })`);
  const betas = o.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2)
    throw new InputError(`betas must be two numbers [beta1, beta2], got ${JSON.stringify(betas)}`);
  const beta = (i: 0 | 1) => finite(`beta${i + 1}`, betas[i], (v) => v >= 0 && v < 1, 'in [0, 1)');
  return Object.freeze({
    kind,
    lr: checkLearningRate(o.lr ?? 1e-3),
    betas: Object.freeze([beta(0), beta(1)]) as readonly [number, number],
    eps: finite('eps', o.eps ?? 1e-8, (v) => v >= 0, 'a finite non-negative number'),
    weightDecay: checkWeightDecay(o.weightDecay ?? defaultDecay),
  });
}

/** torch.optim.Adam's rule and defaults (lr 1e-3, betas [0.9, 0.999], eps 1e-8, L2 weight decay 0). */
export function adam(o: AdamOptions = {}): AdamOptimizer {
  return adamFamily('adam', o, 0);
}

/** torch.optim.AdamW's rule and defaults (lr 1e-3, betas [0.9, 0.999], eps 1e-8, decoupled weight decay 1e-2). */
export function adamw(o: AdamOptions = {}): AdamOptimizer {
  return adamFamily('adamw', o, 1e-2);
}

/** Re-validates an optimizer that came from outside (a checkpoint's JSON, a caller's object literal). */
export function checkOptimizer(o: unknown): Optimizer {
  if (typeof o !== 'object' || o === null || !('kind' in o)) {
    throw new InputError('optimizer must be made by sgd({...}), adam({...}) or adamw({...})');
  }
  const kind = (o as { kind: unknown }).kind;
  if (kind === 'sgd') return sgd(o as unknown as SgdOptions);
  if (kind === 'adam') return adam(o as AdamOptions);
  if (kind === 'adamw') return adamw(o as AdamOptions);
  throw new InputError(`unknown optimizer kind ${JSON.stringify(kind)} (sgd, adam or adamw)`);
}

/** A one-line description for logs and labels, e.g. "sgd lr 0.01 momentum 0.5". */
export function describeOptimizer(o: Optimizer): string {
  const parts = [`${o.kind} lr ${o.lr}`];
  if (o.kind === 'sgd') {
    if (o.momentum) parts.push(`momentum ${o.momentum}`);
    if (o.dampening) parts.push(`dampening ${o.dampening}`);
    if (o.nesterov) parts.push('nesterov');
  } else {
    parts.push(`betas ${o.betas[0]}/${o.betas[1]}`, `eps ${o.eps}`);
  }
  if (o.weightDecay) parts.push(`weight decay ${o.weightDecay}`);
  return parts.join(' ');
}

/** The fixed hyper-parameters of the update kernels (records.ts Hyper); `stateStride`: floats per state tensor. */
export function hyperValues(o: Optimizer, stateStride: number): HyperValues {
  const zero = { momentum: 0, dampeningKeep: 1, nesterov: 0, beta1: 0, oneMinusBeta1: 0, beta2: 0, oneMinusBeta2: 0, eps: 0 };
  if (o.kind === 'sgd') {
    return {
      ...zero,
      momentum: o.momentum,
      dampeningKeep: 1 - o.dampening,
      nesterov: o.nesterov ? 1 : 0,
      weightDecay: o.weightDecay,
      stateStride,
    };
  }
  const [beta1, beta2] = o.betas;
  return {
    ...zero,
    beta1,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    eps: o.eps,
    // AdamW's decay is the per-step factor 1 − lr·wd, not a term of the gradient.
    weightDecay: o.kind === 'adam' ? o.weightDecay : 0,
    stateStride,
  };
}

/** The optimizer's values for its step t (1, 2, …) at learning rate `lr`, as torch.optim computes them (in float64). */
export function stepValues(
  o: Optimizer,
  lr: number,
  t: number,
): { lr: number; stepSize: number; bc2Sqrt: number; decay: number; first: number } {
  if (o.kind === 'sgd') return { lr, stepSize: 0, bc2Sqrt: 1, decay: 1, first: t === 1 ? 1 : 0 };
  const [beta1, beta2] = o.betas;
  const biasCorrection1 = 1 - beta1 ** t;
  const biasCorrection2 = 1 - beta2 ** t;
  return {
    lr,
    stepSize: lr / biasCorrection1,
    bc2Sqrt: Math.sqrt(biasCorrection2),
    decay: o.kind === 'adamw' ? 1 - lr * o.weightDecay : 1,
    first: t === 1 ? 1 : 0,
  };
}
