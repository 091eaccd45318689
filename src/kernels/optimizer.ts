/** The unfused optimizer pass over all parameters (shaders/optimizer.wgsl); its rule is shaders/lib/optimizer_update.wgsl's. */
import optimizerUpdate from '../../shaders/lib/optimizer_update.wgsl';
import familySource from '../../shaders/optimizer.wgsl';
import { Hyper, recordsWgsl, type HyperValues } from './records.ts';
import { ceilDiv, composeWgsl, defineFamily, linearGrid, wgslOverrideDefault, type Grid, type Overrides } from './spec.ts';

export const optimizer = defineFamily({
  name: 'optimizer',
  source: composeWgsl(familySource, optimizerUpdate, recordsWgsl(Hyper)),
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

const WORKGROUP = wgslOverrideDefault(familySource, 'WG');

/** The Hyper uniform's bytes (records.ts), for every kernel that updates parameters. */
export function hyperData(h: HyperValues): Uint8Array<ArrayBuffer> {
  return Hyper.bytes(h);
}

export function optimizerOverrides(count: number): Overrides {
  return { COUNT: count };
}

export function optimizerGrid(count: number): Grid {
  return linearGrid(ceilDiv(count, WORKGROUP));
}
