/**
 * Checkpoints: one safetensors file holding the weights under PyTorch's names (so it also loads
 * in PyTorch with strict=False), each optimizer state buffer under `<state>.<name>` (SGD's
 * `momentum.l1.weight`, Adam's `exp_avg.l1.weight` and `exp_avg_sq.l1.weight`, …), the schedule in the config, and the position, RNG state and settings in the metadata.
 */
import { InputError } from '../../runtime/errors.ts';
import { flatFromStateDict, paramLayout, stateDictFromFlat } from '../layout.ts';
import { checkOptimizer, sgd, type Optimizer } from '../optimizers.ts';
import { CONSTANT_LR, lrSchedule, type LrSchedule, type LrScheduleOptions } from '../schedules.ts';
import { optimizerStateNames, type CheckpointConfig, type TrainerState } from '../trainer/state.ts';
import { checkFinite, decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.ts';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
const FORMAT = 'webgpu-mnist-checkpoint/2';
/** Format 1 (before optimizer objects): SGD only, with lr/momentum/weightDecay at the config's top level. */
const FORMAT_1 = 'webgpu-mnist-checkpoint/1';

export function encodeCheckpoint(state: TrainerState, config: CheckpointConfig): Uint8Array {
  const layout = paramLayout(state.layers);
  const tensors: [string, Tensor][] = [...stateDictFromFlat(layout, state.weights)];
  const names = optimizerStateNames(config.optimizer);
  if (names.length !== state.optimizerState.length) throw new Error('optimizer state does not match the optimizer');
  names.forEach((prefix, i) => {
    for (const [name, t] of stateDictFromFlat(layout, state.optimizerState[i]!)) tensors.push([`${prefix}.${name}`, t]);
  });
  return encodeSafetensors(tensors, {
    format: FORMAT,
    config: JSON.stringify(config),
    epoch: String(state.epoch),
    step_in_epoch: String(state.stepInEpoch),
    global_step: String(state.globalStep),
    rng_state: Array.from(state.epochRngState).join(','),
  });
}

/** The keys a checkpoint's config may have: a Record, so that a key added to CheckpointConfig and not here fails to compile. */
const CONFIG_KEYS: Readonly<Record<keyof CheckpointConfig, true>> = {
  layers: true,
  optimizer: true,
  schedule: true,
  batchSize: true,
  seed: true,
  shuffle: true,
};
/** Format 1 kept SGD's hyper-parameters at the top level. */
const FORMAT_1_KEYS = new Set(['layers', 'batchSize', 'lr', 'momentum', 'weightDecay', 'seed', 'shuffle']);

/**
 * The config stored in a checkpoint, checked field by field; only CheckpointConfig's keys come back,
 * so a key a forged file added never reaches the GPU set-up, and a mistyped one is an InputError.
 */
function readConfig(metadata: Record<string, string>, name: string): CheckpointConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(metadata.config ?? '');
  } catch {
    throw new InputError(`${name}: malformed checkpoint config`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`${name}: malformed checkpoint config`);
  const fields = raw as Record<string, unknown>;
  const v1 = metadata.format === FORMAT_1;
  for (const key of Object.keys(fields)) {
    if (v1 ? !FORMAT_1_KEYS.has(key) : !Object.hasOwn(CONFIG_KEYS, key)) {
      throw new InputError(`${name}: malformed checkpoint config: unexpected key ${JSON.stringify(key).slice(0, 40)}`);
    }
  }
  const bad = (key: string, what: string) => new InputError(`${name}: malformed checkpoint config: ${key} is not ${what}`);
  const { layers, batchSize, seed, shuffle } = fields;
  const positiveInteger = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
  if (!Array.isArray(layers) || layers.length < 2 || !layers.every(positiveInteger))
    throw bad('layers', 'a list of at least two positive integers');
  if (!positiveInteger(batchSize)) throw bad('batchSize', 'a positive integer');
  if (!Number.isSafeInteger(seed) || (seed as number) < 0 || (seed as number) > 0xffffffff) throw bad('seed', 'an integer in [0, 2^32)');
  if (typeof shuffle !== 'boolean') throw bad('shuffle', 'true or false');
  let optimizer: Optimizer;
  let schedule: LrSchedule;
  try {
    optimizer = v1
      ? sgd({ lr: fields.lr as number, momentum: fields.momentum as number, weightDecay: fields.weightDecay as number })
      : checkOptimizer(fields.optimizer);
    // Checkpoints written before schedules existed trained at a constant lr.
    schedule = fields.schedule === undefined ? CONSTANT_LR : lrSchedule(fields.schedule as LrScheduleOptions);
  } catch (error) {
    throw new InputError(`${name}: malformed checkpoint config: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { layers: [...(layers as number[])], optimizer, schedule, batchSize, seed: seed as number, shuffle };
}

export function decodeCheckpoint(bytes: Uint8Array, name: string): { state: TrainerState; config: CheckpointConfig } {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  if (metadata.format !== FORMAT && metadata.format !== FORMAT_1)
    throw new InputError(`${name} is not a training checkpoint of this engine`);
  const config = readConfig(metadata, name);
  const integer = (key: string) => {
    const v = Number(metadata[key]);
    if (!Number.isSafeInteger(v) || v < 0) throw new InputError(`${name}: malformed checkpoint field ${key}`);
    return v;
  };
  const rng = (metadata.rng_state ?? '').split(',').map(Number);
  if (rng.length !== 4 || rng.some((w) => !Number.isSafeInteger(w) || w < 0 || w > 0xffffffff)) {
    throw new InputError(`${name}: malformed checkpoint RNG state`);
  }
  // By the names in the file (momentum.l1.weight), before they are split into weights and momentum.
  checkFinite(tensors, name);
  const layout = paramLayout(config.layers);
  const names = optimizerStateNames(config.optimizer);
  const weights = new Map<string, Tensor>();
  const slots = names.map(() => new Map<string, Tensor>());
  for (const [key, t] of tensors) {
    const dot = key.indexOf('.');
    const slot = names.indexOf(key.slice(0, dot));
    if (slot >= 0 && layout.tensors.some((l) => l.name === key.slice(dot + 1))) slots[slot]!.set(key.slice(dot + 1), t);
    else weights.set(key, t);
  }
  return {
    config,
    state: {
      layers: [...config.layers],
      weights: flatFromStateDict(layout, weights, name),
      optimizerState: names.map((n, i) => flatFromStateDict(layout, slots[i]!, `${name} (${n})`)),
      epoch: integer('epoch'),
      stepInEpoch: integer('step_in_epoch'),
      globalStep: integer('global_step'),
      epochRngState: Uint32Array.from(rng),
    },
  };
}
