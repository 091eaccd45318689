import source from '../../shaders/softmax_ce.wgsl';
import { ceilDiv, defineFamily, wgslConst, type Grid, type Overrides } from './spec.ts';

const logits = { binding: 0, access: 'read' } as const;
const labels = { binding: 1, access: 'read' } as const;
const stats = { binding: 4, access: 'read_write' } as const;
const step = { binding: 5, access: 'uniform_dynamic' } as const;

export const softmaxCe = defineFamily({
  name: 'softmax_ce',
  source,
  entries: {
    train: {
      bindings: {
        logits,
        labels,
        dlogits: { binding: 2, access: 'read_write' },
        row_loss: { binding: 3, access: 'read_write' },
        stats,
        step,
      },
    },
    evaluate: { bindings: { logits, labels, stats, step, predicted: { binding: 7, access: 'read_write' } } },
    softmax: { bindings: { logits, probs: { binding: 6, access: 'read_write' } } },
  },
});

/** Largest workgroup the reduction's workgroup arrays hold. */
export const MAX_WORKGROUP = wgslConst(source, 'MAX_WG');
/** Bytes of one StepStat { loss: f32, correct: u32 }. */
export const STEP_STAT_BYTES = 8;

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

export function softmaxGrid(rows: number, workgroup: number): Grid {
  return [ceilDiv(rows, workgroup), 1, 1];
}
