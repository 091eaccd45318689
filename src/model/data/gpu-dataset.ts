/** A data set uploaded to the GPU once, for the gather kernel to assemble batches from. */
import { InputError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/device.ts';
import { destroyDataset as destroySplit, uploadDataset as uploadSplit, type GpuDataset as GpuSplit } from '../network.ts';
import type { Dataset, FeatureType, Normalization } from './dataset.ts';

export interface GpuDataset extends GpuSplit {
  readonly featureType: FeatureType;
  readonly classes: number;
  readonly normalization: Normalization;
}

export function uploadDataset(gpu: Gpu, d: Dataset, label: string): GpuDataset {
  if (d.featureType !== 'u8' || d.classes > 256) {
    throw new InputError(`${d.name}: float features and more than 256 classes need the generalized gather kernel`);
  }
  const split = uploadSplit(gpu, { images: d.features as Uint8Array, labels: Uint8Array.from(d.labels), count: d.count }, label);
  return { ...split, featureType: d.featureType, classes: d.classes, normalization: d.normalization };
}

export function destroyDataset(gpu: Gpu, d: GpuDataset | undefined): void {
  destroySplit(gpu, d);
}
