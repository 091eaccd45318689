import { InputError } from '../../runtime/errors.ts';
import { paramLayout, stateDictFromFlat, flatFromStateDict } from '../layout.ts';
import { checkFinite, decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.ts';
import type { TrainConfig, TrainerState } from '../trainer.ts';

/** The settings a resumed run must share with the run that wrote the checkpoint. */
export type CheckpointConfig = Pick<TrainConfig, 'batchSize' | 'lr' | 'momentum' | 'weightDecay' | 'seed' | 'shuffle'> & {
  readonly layers: number[];
};

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
const FORMAT = 'webgpu-mnist-checkpoint/1';
const MOMENTUM_PREFIX = 'momentum.';

export function checkpointConfig(c: TrainConfig): CheckpointConfig {
  return {
    layers: [...c.layers],
    batchSize: c.batchSize,
    lr: c.lr,
    momentum: c.momentum,
    weightDecay: c.weightDecay,
    seed: c.seed,
    shuffle: c.shuffle,
  };
}

/**
 * One safetensors file: the weights under the seed's names (so it also loads in PyTorch with
 * strict=False), the momentum buffers under `momentum.<name>`, and the position and RNG state in
 * the metadata.
 */
export function encodeCheckpoint(state: TrainerState, config: CheckpointConfig): Uint8Array {
  const layout = paramLayout(state.layers);
  const tensors: [string, Tensor][] = [...stateDictFromFlat(layout, state.weights)];
  for (const [name, t] of stateDictFromFlat(layout, state.velocity)) tensors.push([MOMENTUM_PREFIX + name, t]);
  return encodeSafetensors(tensors, {
    format: FORMAT,
    config: JSON.stringify(config),
    epoch: String(state.epoch),
    step_in_epoch: String(state.stepInEpoch),
    global_step: String(state.globalStep),
    rng_state: Array.from(state.epochRngState).join(','),
  });
}

/** The keys of CheckpointConfig; a Record so that a key added to the type and not here fails to compile. */
const CONFIG_KEYS: Readonly<Record<keyof CheckpointConfig, true>> = {
  layers: true,
  batchSize: true,
  lr: true,
  momentum: true,
  weightDecay: true,
  seed: true,
  shuffle: true,
};

/**
 * The config stored in a checkpoint, checked field by field. Only the keys of CheckpointConfig come
 * back: the CLI merges this object into the run's config, so a key a forged file added (`tuning`,
 * `evalBatchSize`, ...) would otherwise reach the GPU set-up unvalidated; and a missing or mistyped
 * `layers` would otherwise fail inside paramLayout with a TypeError.
 */
function parseConfig(text: string | undefined, name: string): CheckpointConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? '');
  } catch {
    throw new InputError(`${name}: malformed checkpoint config`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`${name}: malformed checkpoint config`);
  const fields = raw as Record<string, unknown>;
  const bad = (key: string, what: string) => new InputError(`${name}: malformed checkpoint config: ${key} is not ${what}`);
  for (const key of Object.keys(fields)) {
    if (!Object.hasOwn(CONFIG_KEYS, key))
      throw new InputError(`${name}: malformed checkpoint config: unexpected key ${JSON.stringify(key).slice(0, 40)}`);
  }
  const { layers, batchSize, lr, momentum, weightDecay, seed, shuffle } = fields;
  const positiveInteger = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
  if (!Array.isArray(layers) || layers.length < 2 || !layers.every(positiveInteger)) {
    throw bad('layers', 'a list of at least two positive integers');
  }
  if (!positiveInteger(batchSize)) throw bad('batchSize', 'a positive integer');
  for (const [key, v] of [
    ['lr', lr],
    ['momentum', momentum],
    ['weightDecay', weightDecay],
  ] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(key, 'a finite number');
  }
  if (!Number.isSafeInteger(seed) || (seed as number) < 0 || (seed as number) > 0xffffffff) throw bad('seed', 'an integer in [0, 2^32)');
  if (typeof shuffle !== 'boolean') throw bad('shuffle', 'true or false');
  return {
    layers: [...(layers as number[])],
    batchSize,
    lr: lr as number,
    momentum: momentum as number,
    weightDecay: weightDecay as number,
    seed: seed as number,
    shuffle,
  };
}

export function decodeCheckpoint(bytes: Uint8Array, name: string): { state: TrainerState; config: CheckpointConfig } {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  if (metadata.format !== FORMAT) throw new InputError(`${name} is not a training checkpoint of this engine`);
  const config = parseConfig(metadata.config, name);
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
  const weights = new Map<string, Tensor>();
  const momentum = new Map<string, Tensor>();
  for (const [key, t] of tensors) {
    if (key.startsWith(MOMENTUM_PREFIX)) momentum.set(key.slice(MOMENTUM_PREFIX.length), t);
    else weights.set(key, t);
  }
  return {
    config,
    state: {
      layers: [...config.layers],
      weights: flatFromStateDict(layout, weights, name),
      velocity: flatFromStateDict(layout, momentum, `${name} (momentum)`),
      epoch: integer('epoch'),
      stepInEpoch: integer('step_in_epoch'),
      globalStep: integer('global_step'),
      epochRngState: Uint32Array.from(rng),
    },
  };
}
