import source from '../../shaders/relu.wgsl';
import { ceilDiv, defineFamily, linearGrid, wgslOverrideDefault, type Grid, type Overrides } from './spec.ts';

export const relu = defineFamily({
  name: 'relu',
  source,
  entries: {
    relu_forward: {
      bindings: { x: { binding: 0, access: 'read' }, y: { binding: 1, access: 'read_write' } },
    },
    relu_backward: {
      bindings: {
        x: { binding: 0, access: 'read' },
        dy: { binding: 2, access: 'read' },
        dx: { binding: 3, access: 'read_write' },
      },
    },
  },
});

const WORKGROUP = wgslOverrideDefault(source, 'WG');

export function reluOverrides(count: number): Overrides {
  return { COUNT: count };
}

export function reluGrid(count: number): Grid {
  return linearGrid(ceilDiv(count, WORKGROUP));
}
