/** Batch assembly from a data set on the GPU (shaders/gather.wgsl): u8 or f32 features, normalized as the data set says. */
import familySource from '../../shaders/gather.wgsl';
import type { FeatureType, Normalization } from '../model/data/dataset.ts';
import { recordsWgsl, StepParams } from './records.ts';
import { ceilDiv, composeWgsl, defineFamily, linearGrid, wgslOverrideDefault, type Grid, type Overrides } from './spec.ts';

export const gather = defineFamily({
  name: 'gather',
  source: composeWgsl(familySource, recordsWgsl(StepParams)),
  entries: {
    gather: {
      bindings: {
        features: { binding: 0, access: 'read' },
        labels: { binding: 1, access: 'read' },
        order: { binding: 2, access: 'read' },
        x: { binding: 3, access: 'read_write' },
        y: { binding: 4, access: 'read_write' },
        step: { binding: 5, access: 'uniform_dynamic' },
      },
    },
  },
});

export const GATHER_WORKGROUP = wgslOverrideDefault(familySource, 'WG');

/** What the gather needs to know of a data set's features. */
export interface FeatureFormat {
  readonly featureCount: number;
  readonly featureType: FeatureType;
  readonly normalization: Normalization;
}

export function gatherOverrides(rows: number, format: FeatureFormat, shuffled: boolean): Overrides {
  return {
    ROWS: rows,
    FEATURES: format.featureCount,
    SHUFFLED: shuffled,
    BYTES: format.featureType === 'u8',
    MEAN: format.normalization.mean,
    STD: format.normalization.std,
  };
}

export function gatherGrid(rows: number, features: number): Grid {
  return linearGrid(ceilDiv(rows * features, GATHER_WORKGROUP));
}
