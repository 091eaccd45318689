/**
 * The engine's kernel-level parts, for tools that run single kernels or replay a training step
 * (the kernel benchmarks): kernel families and their grids and overrides, the byte records shared
 * with WGSL, the flat parameter layout, the step's dispatch plan and programs, and the pipeline
 * helpers. Exported from the public entry as the `advanced` namespace; an application trains
 * through `Trainer` and needs none of this.
 */
export {
  denseDims,
  denseFamily,
  denseGrid,
  denseOverrides,
  denseVec4,
  type DenseEntry,
  type DenseShape,
  type DenseTuning,
} from './kernels/dense.ts';
export { gather, gatherGrid, gatherOverrides } from './kernels/gather.ts';
export { hyperData, optimizer, optimizerGrid, optimizerOverrides } from './kernels/optimizer.ts';
export { DenseDims, StepStat, StepParams, Hyper } from './kernels/records.ts';
export { headOverrides, reductionGrid, reductionWorkgroup, softmaxCe, softmaxCeOverrides, TRAIN_WORKGROUP } from './kernels/softmax-ce.ts';
export type { Grid } from './kernels/spec.ts';
export { destroyDataset, uploadDataset, type GpuDataset } from './model/data/gpu-dataset.ts';
export { initParams, paramLayout, type ParamLayout } from './model/layout.ts';
export { hyperValues, stepValues } from './model/optimizers.ts';
export { GpuParameters, StepTable } from './model/parameters.ts';
export type { StepDispatch } from './model/programs/program.ts';
export { planTrainStep, TrainProgram } from './model/programs/train.ts';
export { DEFAULT_TUNING, fusesUpdate, TUNINGS, tuningFor, type Tuning } from './model/programs/tuning.ts';
export { Rng } from './model/rng.ts';
export { bindGroup, dispatch, type BindingResource, type Kernel } from './runtime/pipelines.ts';
export { pollCompetesWithDevice } from './runtime/device.ts';
