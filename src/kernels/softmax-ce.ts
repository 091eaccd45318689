/** Softmax + cross-entropy (shaders/softmax_ce.wgsl): the loss of a batch, evaluation, inference, and train_head. */
import fusedUpdate from '../../shaders/lib/fused_update.wgsl';
import optimizerUpdate from '../../shaders/lib/optimizer_update.wgsl';
import familySource from '../../shaders/softmax_ce.wgsl';
import { ruleOverrides, type OptimizerRule } from './optimizer.ts';
import { Hyper, recordsWgsl, StepParams, StepStat } from './records.ts';
import { ceilDiv, composeWgsl, defineFamily, wgslConst, type Grid, type Overrides } from './spec.ts';

const logits = { binding: 0, access: 'read' } as const;
const labels = { binding: 1, access: 'read' } as const;
const stats = { binding: 4, access: 'read_write' } as const;
const step = { binding: 5, access: 'uniform_dynamic' } as const;

export const softmaxCe = defineFamily({
  name: 'softmax_ce',
  source: composeWgsl(familySource, fusedUpdate, optimizerUpdate, recordsWgsl(StepParams, StepStat, Hyper)),
  entries: {
    train: { bindings: { logits, labels, dlogits: { binding: 2, access: 'read_write' }, stats, step } },
    evaluate: { bindings: { logits, labels, stats, step, predicted: { binding: 7, access: 'read_write' } } },
    softmax: { bindings: { logits, probs: { binding: 6, access: 'read_write' } } },
    train_head: {
      bindings: {
        labels,
        stats,
        step,
        hidden: { binding: 8, access: 'read' },
        params: { binding: 9, access: 'read' },
        dhidden: { binding: 10, access: 'read_write' },
        params_out: { binding: 11, access: 'read_write' },
        opt_state: { binding: 12, access: 'read_write' },
        hyper: { binding: 13, access: 'uniform' },
      },
    },
  },
});

/** Largest workgroup the reduction's workgroup arrays hold. */
export const MAX_WORKGROUP = wgslConst(familySource, 'MAX_WG');
/** The loss of a training batch reduces over a workgroup of up to this many invocations. */
export const TRAIN_WORKGROUP = 64;
/** An evaluation chunk (1,000 rows by default) gets the widest reduction. */
export const EVAL_WORKGROUP = MAX_WORKGROUP;

/** A power of two, at most MAX_WORKGROUP, no wider than needed for `rows`. */
export function reductionWorkgroup(rows: number, preferred: number): number {
  let wg = 1;
  while (wg * 2 <= Math.min(preferred, MAX_WORKGROUP) && wg < rows) wg *= 2;
  return wg;
}

export function softmaxCeOverrides(rows: number, classes: number, workgroup: number): Overrides {
  return { ROWS: rows, CLASSES: classes, WG: workgroup };
}

export const reductionGrid: Grid = [1, 1, 1];

/** The output layer that train_head fuses: W (classes, hidden) and b (classes) at these offsets. */
export interface HeadShape {
  readonly rows: number;
  readonly hidden: number;
  readonly classes: number;
  readonly weightOffset: number;
  readonly biasOffset: number;
}

/** train_head runs as one full-width workgroup: its two matmuls have ROWS·HIDDEN and CLASSES·(HIDDEN + 1) outputs to share out. */
export const HEAD_WORKGROUP = MAX_WORKGROUP;

/** Workgroup memory train_head needs: the logits, and the reduction's two arrays. */
export function headWorkgroupBytes(rows: number, classes: number): number {
  return rows * classes * 4 + MAX_WORKGROUP * 8;
}

export function headOverrides(s: HeadShape, rule: OptimizerRule = 'sgd'): Overrides {
  return {
    ...ruleOverrides(rule),
    ...softmaxCeOverrides(s.rows, s.classes, HEAD_WORKGROUP),
    HIDDEN: s.hidden,
    W_OFF: s.weightOffset,
    B_OFF: s.biasOffset,
  };
}

export function softmaxGrid(rows: number, workgroup: number): Grid {
  return [ceilDiv(rows, workgroup), 1, 1];
}
