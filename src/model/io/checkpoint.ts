/**
 * Checkpoints: one safetensors file holding the weights under PyTorch's names (so it also loads
 * in PyTorch with strict=False), each optimizer state buffer under `<state>.<name>` (SGD's
 * `momentum.l1.weight`, …), and the position, RNG state and settings in the metadata.
 */
import { InputError } from '../../runtime/errors.ts';
import { flatFromStateDict, paramLayout, stateDictFromFlat } from '../layout.ts';
import { checkOptimizer, sgd } from '../optimizers.ts';
import { optimizerStateNames, type CheckpointConfig, type TrainerState } from '../trainer/state.ts';
import { decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.ts';

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

function readConfig(metadata: Record<string, string>, name: string): CheckpointConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(metadata.config ?? '') as Record<string, unknown>;
  } catch {
    throw new InputError(`${name}: malformed checkpoint config`);
  }
  if (typeof raw !== 'object' || raw === null) throw new InputError(`${name}: malformed checkpoint config`);
  try {
    const optimizer =
      metadata.format === FORMAT_1
        ? sgd({ lr: raw.lr as number, momentum: raw.momentum as number, weightDecay: raw.weightDecay as number })
        : checkOptimizer(raw.optimizer);
    const layers = raw.layers as number[];
    if (!Array.isArray(layers)) throw new InputError('no layers');
    paramLayout(layers);
    const batchSize = raw.batchSize as number;
    const seed = raw.seed as number;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || !Number.isSafeInteger(seed) || typeof raw.shuffle !== 'boolean') {
      throw new InputError('bad batch size, seed or shuffle');
    }
    return { layers: [...layers], optimizer, batchSize, seed, shuffle: raw.shuffle };
  } catch (error) {
    throw new InputError(`${name}: malformed checkpoint config (${error instanceof Error ? error.message : String(error)})`);
  }
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
