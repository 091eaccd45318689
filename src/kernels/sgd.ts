import source from '../../shaders/sgd.wgsl';
import { ceilDiv, defineFamily, linearGrid, wgslOverrideDefault, type Grid, type Overrides } from './spec.ts';

export const sgd = defineFamily({
  name: 'sgd',
  source,
  entries: {
    step: {
      bindings: {
        params: { binding: 0, access: 'read_write' },
        grads: { binding: 1, access: 'read' },
        velocity: { binding: 2, access: 'read_write' },
        hyper: { binding: 3, access: 'uniform' },
      },
    },
  },
});

const WORKGROUP = wgslOverrideDefault(source, 'WG');

/** Bytes of the Hyper uniform { lr, momentum, weight_decay, _pad } shared by sgd.wgsl and matmul.wgsl. */
export const HYPER_BYTES = 16;

export interface SgdHyper {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
}

export function hyperData(h: SgdHyper): Float32Array {
  return new Float32Array([h.lr, h.momentum, h.weightDecay, 0]);
}

export function sgdOverrides(count: number): Overrides {
  return { COUNT: count };
}

export function sgdGrid(count: number): Grid {
  return linearGrid(ceilDiv(count, WORKGROUP));
}
