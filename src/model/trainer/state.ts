/**
 * What a checkpoint holds: enough to continue exactly where training stopped, and the settings
 * the continuing run must share with the one that wrote it.
 */
import type { Optimizer } from '../optimizers.ts';
import type { LrSchedule } from '../schedules.ts';

export interface TrainerState {
  readonly layers: readonly number[];
  readonly weights: Float32Array;
  /** the optimizer's state buffers, flat like the weights, in the order of `optimizerStateNames` */
  readonly optimizerState: readonly Float32Array[];
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly globalStep: number;
  /** state of the shuffle RNG at the start of `epoch` (the epoch's order is drawn from it) */
  readonly epochRngState: Uint32Array;
}

/** The settings a resumed run must share with the run that wrote the checkpoint. */
export interface CheckpointConfig {
  readonly layers: readonly number[];
  readonly optimizer: Optimizer;
  readonly schedule: LrSchedule;
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
}

/** The names (checkpoint tensor prefixes) of an optimizer's state buffers: torch.optim's own where it has one. */
export function optimizerStateNames(o: Optimizer): readonly string[] {
  return o.kind === 'sgd' ? ['momentum'] : ['exp_avg', 'exp_avg_sq'];
}
