/**
 * A data set on the GPU as it was given: features as bytes (packed 4 to a u32 word, little-endian,
 * as a Uint8Array's memory already is) or as f32, labels as u32. The gather kernel expands a batch
 * to normalized f32 rows; nothing is expanded ahead of time.
 */
import type { Gpu } from '../../runtime/device.ts';
import type { Dataset, FeatureType, Normalization } from './dataset.ts';

export interface GpuDataset {
  readonly features: GPUBuffer;
  readonly labels: GPUBuffer;
  readonly count: number;
  readonly featureCount: number;
  readonly featureType: FeatureType;
  readonly classes: number;
  readonly normalization: Normalization;
}

// A function: GPUBufferUsage exists only once a WebGPU implementation is loaded.
const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export function uploadDataset(gpu: Gpu, dataset: Dataset, label: string): GpuDataset {
  const features = gpu.buffers.create(`${label}.features`, dataset.features.byteLength, STORAGE(), dataset.features);
  try {
    return {
      features,
      labels: gpu.buffers.create(`${label}.labels`, dataset.labels.byteLength, STORAGE(), dataset.labels),
      count: dataset.count,
      featureCount: dataset.featureCount,
      featureType: dataset.featureType,
      classes: dataset.classes,
      normalization: dataset.normalization,
    };
  } catch (error) {
    gpu.buffers.destroy(features);
    throw error;
  }
}

export function destroyDataset(gpu: Gpu, d: GpuDataset | undefined): void {
  gpu.buffers.destroy(d?.features);
  gpu.buffers.destroy(d?.labels);
}
