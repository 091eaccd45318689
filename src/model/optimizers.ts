/**
 * Optimizer descriptions: plain, validated, JSON-serializable objects (a checkpoint records
 * them), built by `sgd({...})`. Each names torch.optim's rule it reproduces; the update itself
 * runs on the GPU, fused into the kernels that produce each layer's weight gradient.
 */
import { InputError } from '../runtime/errors.ts';

/** torch.optim.SGD: g += wd·w; v = μ·v + (1 − dampening)·g (v = g on the first step); w −= lr·(nesterov ? g + μ·v : v). */
export interface SgdOptimizer {
  readonly kind: 'sgd';
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
}

export type Optimizer = SgdOptimizer;

export interface SgdOptions {
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  readonly weightDecay?: number;
}

function finite(name: string, v: number, ok: (v: number) => boolean, range: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new InputError(`${name} must be ${range}, got ${v}`);
  return v;
}

export function checkLearningRate(lr: number): number {
  return finite('learning rate', lr, (v) => v > 0, 'a finite positive number');
}

/** torch.optim.SGD's rule and defaults (momentum 0, dampening 0, no Nesterov, no weight decay). */
export function sgd(o: SgdOptions): SgdOptimizer {
  if (typeof o !== 'object' || o === null) throw new InputError('sgd() takes an options object, e.g. sgd({ lr: 0.01, momentum: 0.5 })');
  const momentum = finite('momentum', o.momentum ?? 0, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const dampening = finite('dampening', o.dampening ?? 0, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const nesterov = o.nesterov ?? false;
  if (nesterov && (momentum === 0 || dampening !== 0)) {
    throw new InputError('Nesterov momentum needs a momentum > 0 and zero dampening (as torch.optim.SGD)');
  }
  if (dampening !== 0 || nesterov) {
    throw new InputError('SGD with dampening or Nesterov momentum is not available in this build of the engine');
  }
  return Object.freeze({
    kind: 'sgd',
    lr: checkLearningRate(o.lr),
    momentum,
    dampening,
    nesterov,
    weightDecay: finite('weight decay', o.weightDecay ?? 0, (v) => v >= 0, 'a finite non-negative number'),
  });
}

/** Re-validates an optimizer that came from outside (a checkpoint's JSON, a caller's object literal). */
export function checkOptimizer(o: unknown): Optimizer {
  if (typeof o !== 'object' || o === null || !('kind' in o)) {
    throw new InputError('optimizer must be made by sgd({...})');
  }
  const kind = (o as { kind: unknown }).kind;
  if (kind === 'sgd') return sgd(o as unknown as SgdOptions);
  throw new InputError(`unknown optimizer kind ${JSON.stringify(kind)}`);
}

/** A one-line description for logs and labels, e.g. "sgd lr 0.01 momentum 0.5". */
export function describeOptimizer(o: Optimizer): string {
  const parts = [`${o.kind} lr ${o.lr}`];
  if (o.momentum) parts.push(`momentum ${o.momentum}`);
  if (o.dampening) parts.push(`dampening ${o.dampening}`);
  if (o.nesterov) parts.push('nesterov');
  if (o.weightDecay) parts.push(`weight decay ${o.weightDecay}`);
  return parts.join(' ');
}
