/**
 * The trainer's settings, from the public `TrainerOptions` to the checked, complete `TrainConfig`
 * the rest of the trainer reads (and a checkpoint records the part of that a resumed run must share).
 */
import { InputError } from '../../runtime/errors.ts';
import { pollCompetesWithDevice, type Gpu } from '../../runtime/device.ts';
import type { Dataset } from '../data/dataset.ts';
import type { Tensor } from '../io/safetensors.ts';
import { checkModel, type ModelSpec } from '../model.ts';
import { DEFAULT_TUNING, fusesUpdate, tuningFor, type Tuning } from '../programs/tuning.ts';
import { checkOptimizer, type Optimizer } from '../optimizers.ts';
import { CONSTANT_LR, lrSchedule, type LrSchedule, type LrScheduleOptions } from '../schedules.ts';

export interface TrainConfig {
  readonly layers: readonly number[];
  readonly optimizer: Optimizer;
  readonly schedule: LrSchedule;
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  /** the update fused into the weight-gradient kernels (the default but on SwiftShader) or as one pass over all parameters */
  readonly fusedUpdate: boolean;
  /** optimizer steps encoded into one command buffer; each submit ends with a copy of its losses for readback */
  readonly stepsPerSubmit: number;
  /** command buffers allowed in flight before the CPU waits for the oldest one's losses */
  readonly maxInFlight: number;
  /** each command buffer's readback starts near its expected completion, not at submit (submit-ring.ts MapPacer) */
  readonly pacedReadback: boolean;
  readonly evalBatchSize: number;
  readonly tuning: Tuning;
}

export interface TrainerOptions {
  readonly model: ModelSpec;
  readonly optimizer: Optimizer;
  /**
   * the learning rate over training, from the optimizer's lr (default constant): `step` (StepLR)
   * and `cosine` (CosineAnnealingLR) change it once per epoch, `warmupSteps` ramps it linearly over
   * the first steps (LinearLR from 1/W, per batch), as torch.optim.lr_scheduler does
   */
  readonly schedule?: LrScheduleOptions;
  readonly train: Dataset;
  /** evaluated after every epoch by fit(), and by evaluate() */
  readonly test?: Dataset;
  /** default 64; a batch larger than the training set is clamped to it (one batch an epoch, as PyTorch's DataLoader) */
  readonly batchSize?: number;
  /** seeds the initial weights (when no `init` is given) and the shuffle; default 1 */
  readonly seed?: number;
  /** reshuffle the training set every epoch (default); false: batch i is samples [i·B, (i+1)·B) */
  readonly shuffle?: boolean;
  /** starting weights: safetensors bytes or a state dict with PyTorch's names (l1.weight [out, in], l1.bias, …) */
  readonly init?: Uint8Array | ReadonlyMap<string, Tensor>;
  /** names `init` in error messages */
  readonly initName?: string;
  /** advanced: steps per command buffer (default 64, 8 on software adapters) */
  readonly stepsPerSubmit?: number;
  /** advanced: command buffers in flight before the CPU waits (default 3, 2 on software adapters) */
  readonly maxInFlight?: number;
  /**
   * advanced: start each command buffer's readback near its expected completion instead of at
   * submit; default where the device computes on the CPU's cores (a software adapter) and a pending
   * map keeps a host thread polling (Dawn's Node binding), so that the poll does not take a core
   * from the device
   */
  readonly pacedReadback?: boolean;
  /** advanced: false runs the optimizer as its own pass (the reference path); default: the tuning's choice (fused, except on SwiftShader) */
  readonly fusedUpdate?: boolean;
  /** advanced: test samples per evaluation dispatch (default 1000) */
  readonly evalBatchSize?: number;
  /** advanced: kernel shapes instead of the adapter's default */
  readonly tuning?: Tuning;
}

export const DEFAULT_BATCH_SIZE = 64;
export const DEFAULT_SEED = 1;

export function positiveInteger(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new InputError(`${name} must be a positive integer, got ${v}`);
  return v;
}

export function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new InputError(`seed must be an integer in [0, 2^32), got ${seed}`);
  return seed;
}

/** The complete configuration for `gpu`: software adapters get short submits so progress stays live. */
export function configFrom(gpu: Gpu, o: TrainerOptions): TrainConfig {
  if (typeof o !== 'object' || o === null) throw new InputError('Trainer.create takes an options object');
  const model = checkModel(o.model);
  const optimizer = checkOptimizer(o.optimizer);
  const software = gpu.adapter.isFallback;
  const tuning = o.tuning ?? (gpu.adapter ? tuningFor(gpu.adapter) : DEFAULT_TUNING);
  const maxInFlight = positiveInteger('max in flight', o.maxInFlight ?? (software ? 2 : 3));
  const config: TrainConfig = {
    layers: model.layers,
    optimizer,
    schedule: o.schedule === undefined ? CONSTANT_LR : lrSchedule(o.schedule),
    // PyTorch's DataLoader gives one (short) batch an epoch when the batch is larger than the data.
    batchSize: Math.min(positiveInteger('batch size', o.batchSize ?? DEFAULT_BATCH_SIZE), o.train?.count ?? Infinity),
    seed: checkSeed(o.seed ?? DEFAULT_SEED),
    shuffle: o.shuffle ?? true,
    fusedUpdate: o.fusedUpdate ?? fusesUpdate(tuning),
    stepsPerSubmit: positiveInteger('steps per submit', o.stepsPerSubmit ?? (software ? 8 : 64)),
    maxInFlight,
    pacedReadback: o.pacedReadback ?? (pollCompetesWithDevice(gpu) && maxInFlight >= 2),
    evalBatchSize: positiveInteger('eval batch size', o.evalBatchSize ?? 1000),
    tuning,
  };
  return config;
}

/** The model must read the data set's features and name its classes. */
export function checkFits(layers: readonly number[], d: Dataset): void {
  if (layers[0] !== d.featureCount) {
    throw new InputError(`the model takes ${layers[0]} inputs, but ${d.name} has ${d.featureCount} features per sample`);
  }
  if (layers.at(-1) !== d.classes) {
    throw new InputError(`the model has ${layers.at(-1)} outputs, but ${d.name} has ${d.classes} classes`);
  }
}
