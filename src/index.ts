/**
 * The engine's public entry for browsers (and any runtime with WebGPU): nothing reachable from
 * here imports `node:*` or Dawn. Node programs import `webgpu-mnist-engine/node`, which adds the
 * Dawn device and file helpers to all of this.
 */
import { Gpu, type AcquireOptions } from './runtime/device.ts';

export { Gpu as Device, describeAdapter, type AcquireOptions as DeviceOptions, type AdapterSummary } from './runtime/device.ts';
export { InputError, GpuError, DeviceLostError, DivergenceError, describeError } from './runtime/errors.ts';

export { mlp, type MlpSpec, type ModelSpec } from './model/model.ts';
export {
  sgd,
  adam,
  adamw,
  describeOptimizer,
  type Optimizer,
  type SgdOptimizer,
  type SgdOptions,
  type AdamOptimizer,
  type AdamOptions,
} from './model/optimizers.ts';
export { lrSchedule, describeSchedule, type LrSchedule, type LrScheduleOptions } from './model/schedules.ts';
export { SEED_LAYERS, layersOfStateDict } from './model/layout.ts';

export {
  datasetFrom,
  datasetSlice,
  computeNormalization,
  type Dataset,
  type DatasetInit,
  type FeatureType,
  type LabelArray,
  type Normalization,
} from './model/data/dataset.ts';
export { idxDataset, parseIdxImages, parseIdxLabels, gunzipIfNeeded, type IdxDatasetOptions, type IdxImages } from './model/data/idx.ts';
export {
  loadMnist as loadMnistFrom,
  MNIST_CHECKSUMS,
  MNIST_FILES,
  MNIST_NORMALIZATION,
  type FileReader,
  type MnistLike,
  type MnistOptions,
} from './model/data/mnist.ts';

export { Trainer } from './model/trainer/trainer.ts';
export type { TrainerOptions, TrainConfig } from './model/trainer/config.ts';
export type { FitOptions, FitResult, BatchReport, ChunkReport, EpochReport } from './model/trainer/fit.ts';
export type { EvalResult } from './model/trainer/evaluator.ts';
export type { StepProfile, DispatchTime } from './model/trainer/profile.ts';
export type { TrainerState, CheckpointConfig } from './model/trainer/state.ts';

export { encodeSafetensors, decodeSafetensors, type Tensor } from './model/io/safetensors.ts';
export { encodeCheckpoint, decodeCheckpoint, CHECKPOINT_FILE } from './model/io/checkpoint.ts';

/** A WebGPU device from `navigator.gpu` (or the `gpu` given), with the engine's error and buffer tracking. */
export function createDevice(options: AcquireOptions & { readonly gpu?: GPU } = {}): Promise<Gpu> {
  const gpu = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  return Gpu.acquire(gpu, options);
}

/** Kernel-level parts for tools such as the kernel benchmarks (see src/advanced.ts). */
export * as advanced from './advanced.ts';
