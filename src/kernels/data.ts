import source from '../../shaders/data.wgsl';
import { ceilDiv, defineFamily, linearGrid, wgslOverrideDefault, type Grid, type Overrides } from './spec.ts';

export const data = defineFamily({
  name: 'data',
  source,
  entries: {
    gather: {
      bindings: {
        images: { binding: 0, access: 'read' },
        labels: { binding: 1, access: 'read' },
        order: { binding: 2, access: 'read' },
        x: { binding: 3, access: 'read_write' },
        y: { binding: 4, access: 'read_write' },
        step: { binding: 5, access: 'uniform_dynamic' },
      },
    },
  },
});

export const DATA_WORKGROUP = wgslOverrideDefault(source, 'WG');

/** The per-step parameters both `data.gather` and `softmax_ce` read: { slot, batch_start } at a dynamic offset. */
export const STEP_PARAMS_BYTES = 16;

export interface Normalization {
  readonly mean: number;
  readonly std: number;
}

/** torchvision's MNIST normalization, as the tutorial uses. */
export const MNIST_NORMALIZATION: Normalization = { mean: 0.1307, std: 0.3081 };

export function gatherOverrides(rows: number, features: number, shuffled: boolean, norm: Normalization): Overrides {
  return { ROWS: rows, FEATURES: features, SHUFFLED: shuffled, MEAN: norm.mean, STD: norm.std };
}

export function gatherGrid(rows: number, features: number): Grid {
  return linearGrid(ceilDiv(rows * features, DATA_WORKGROUP));
}
