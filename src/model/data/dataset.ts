/**
 * A classification data set as the engine takes it: nothing here knows about MNIST. Features are
 * `count × featureCount` values, row-major, either bytes (scaled by 1/255 on the GPU, as
 * torchvision's ToTensor does) or float32; labels are class indices in 0..classes-1. The
 * normalization `(x·scale − mean) / std` is applied on the GPU when a batch is gathered.
 */
import { InputError } from '../../runtime/errors.ts';

export interface Normalization {
  readonly mean: number;
  readonly std: number;
}

export type FeatureType = 'u8' | 'f32';

export interface Dataset {
  readonly name: string;
  readonly features: Uint8Array | Float32Array;
  readonly featureType: FeatureType;
  /** one class index per sample */
  readonly labels: Uint32Array;
  readonly count: number;
  readonly featureCount: number;
  readonly classes: number;
  readonly normalization: Normalization;
}

export type LabelArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | readonly number[];

export interface DatasetInit {
  /** `count × featureCount` values, row-major: bytes (0..255, scaled by 1/255) or float32 */
  readonly features: Uint8Array | Float32Array;
  readonly labels: LabelArray;
  readonly featureCount: number;
  readonly classes: number;
  /** given, or computed from these features (mean and standard deviation over all of them) */
  readonly normalization?: Normalization;
  /** names the data set in error messages */
  readonly name?: string;
}

/** What the GPU multiplies a raw feature by before normalizing: ToTensor's 1/255 for bytes. */
export function featureScale(type: FeatureType): number {
  return type === 'u8' ? 1 / 255 : 1;
}

/** Checks and wraps a data set; every problem is an InputError naming it. */
export function datasetFrom(init: DatasetInit): Dataset {
  const name = init.name ?? 'data set';
  const { features, featureCount, classes } = init;
  if (!(features instanceof Uint8Array) && !(features instanceof Float32Array)) {
    throw new InputError(`${name}: features must be a Uint8Array or a Float32Array`);
  }
  if (!Number.isSafeInteger(featureCount) || featureCount < 1) {
    throw new InputError(`${name}: featureCount must be a positive integer, got ${featureCount}`);
  }
  if (!Number.isSafeInteger(classes) || classes < 2) throw new InputError(`${name}: classes must be an integer ≥ 2, got ${classes}`);
  const count = init.labels.length;
  if (count === 0) throw new InputError(`${name}: the data set is empty`);
  if (features.length !== count * featureCount) {
    throw new InputError(
      `${name}: ${features.length} feature values do not make ${count} samples of ${featureCount} features (expected ${count * featureCount})`,
    );
  }
  const labels = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const label = init.labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new InputError(`${name}: label ${i} is ${label}, expected a class index in 0..${classes - 1}`);
    }
    labels[i] = label;
  }
  const featureType: FeatureType = features instanceof Uint8Array ? 'u8' : 'f32';
  if (featureType === 'f32') {
    for (let i = 0; i < features.length; i++) {
      if (!Number.isFinite(features[i]!)) {
        throw new InputError(`${name}: feature ${i % featureCount} of sample ${Math.floor(i / featureCount)} is ${features[i]}`);
      }
    }
  }
  const normalization = init.normalization ?? computeNormalization(features, name);
  checkNormalization(normalization, name);
  return { name, features, featureType, labels, count, featureCount, classes, normalization };
}

export function checkNormalization(n: Normalization, name: string): void {
  if (!Number.isFinite(n.mean) || !(Number.isFinite(n.std) && n.std > 0)) {
    throw new InputError(`${name}: normalization needs a finite mean and a positive std, got mean ${n.mean}, std ${n.std}`);
  }
}

/**
 * Mean and standard deviation over every feature value (bytes scaled by 1/255 first), in float64,
 * the std unbiased as torch.Tensor.std(): what torchvision users compute by hand for Normalize.
 */
export function computeNormalization(features: Uint8Array | Float32Array, name = 'data set'): Normalization {
  const n = features.length;
  if (n < 2) throw new InputError(`${name}: too few feature values to compute a normalization; give one`);
  let mean: number;
  let squares: number;
  if (features instanceof Uint8Array) {
    // A histogram makes this exact and fast for bytes: 47 M MNIST pixels in one pass of integer adds.
    const histogram = new Float64Array(256);
    for (let i = 0; i < n; i++) histogram[features[i]!]!++;
    let sum = 0;
    for (let v = 0; v < 256; v++) sum += histogram[v]! * (v / 255);
    mean = sum / n;
    squares = 0;
    for (let v = 0; v < 256; v++) squares += histogram[v]! * (v / 255 - mean) ** 2;
  } else {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += features[i]!;
    mean = sum / n;
    squares = 0;
    for (let i = 0; i < n; i++) squares += (features[i]! - mean) ** 2;
  }
  const std = Math.sqrt(squares / (n - 1));
  if (!(std > 0)) throw new InputError(`${name}: every feature value is the same, so no normalization can be computed; give one`);
  return { mean, std };
}

/** Samples [start, end) of a data set, sharing its memory and keeping its normalization. */
export function datasetSlice(d: Dataset, start: number, end = d.count, name = d.name): Dataset {
  const from = Math.max(0, Math.min(start, d.count));
  const to = Math.max(from, Math.min(end, d.count));
  if (to === from) throw new InputError(`${name}: the slice [${start}, ${end}) of ${d.count} samples is empty`);
  return {
    ...d,
    name,
    features: d.features.subarray(from * d.featureCount, to * d.featureCount),
    labels: d.labels.subarray(from, to),
    count: to - from,
  };
}
