/**
 * What the benchmarks use of the engine below the Trainer, taken from the public entry's
 * `advanced` namespace (the benchmarks import the engine only through its public entry points).
 */
import { advanced } from '../src/index.ts';

export const {
  denseDims,
  denseFamily,
  denseGrid,
  denseOverrides,
  denseVec4,
  pollCompetesWithDevice,
  gather,
  gatherGrid,
  gatherOverrides,
  hyperData,
  hyperValues,
  stepValues,
  optimizer,
  optimizerGrid,
  optimizerOverrides,
  StepStat,
  headOverrides,
  reductionGrid,
  reductionWorkgroup,
  softmaxCe,
  softmaxCeOverrides,
  TRAIN_WORKGROUP,
  destroyDataset,
  uploadDataset,
  initParams,
  paramLayout,
  GpuParameters,
  StepTable,
  planTrainStep,
  TrainProgram,
  DEFAULT_TUNING,
  TUNINGS,
  tuningFor,
  fusesUpdate,
  Rng,
  bindGroup,
  dispatch,
} = advanced;
export type DenseEntry = advanced.DenseEntry;
export type DenseShape = advanced.DenseShape;
export type Grid = advanced.Grid;
export type ParamLayout = advanced.ParamLayout;
export type StepDispatch = advanced.StepDispatch;
export type Tuning = advanced.Tuning;
export type BindingResource = advanced.BindingResource;
export type Kernel = advanced.Kernel;
export type Rng = advanced.Rng;
export type StepTable = advanced.StepTable;
export type GpuParameters = advanced.GpuParameters;
export type TrainProgram = advanced.TrainProgram;
