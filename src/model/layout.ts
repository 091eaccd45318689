import { InputError } from '../runtime/errors.ts';
import type { Rng } from './rng.ts';
import { checkStateDict, type Tensor } from './io/safetensors.ts';

/** The PyTorch tutorial's MLP: 784-512-256-128-64-10, ReLU after every hidden layer. */
export const SEED_LAYERS: readonly number[] = [784, 512, 256, 128, 64, 10];

export interface DenseLayout {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** offsets in floats into the flat parameter buffer */
  readonly weightOffset: number;
  readonly biasOffset: number;
}

export interface TensorLayout {
  /** PyTorch's name in the seed program's state_dict: l1.weight, l1.bias, … */
  readonly name: string;
  readonly shape: number[];
  readonly offset: number;
  readonly size: number;
}

/** Where every tensor of the model lives in one flat f32 buffer (params, velocity and grads share it). */
export interface ParamLayout {
  readonly layers: readonly number[];
  readonly dense: readonly DenseLayout[];
  readonly tensors: readonly TensorLayout[];
  readonly totalFloats: number;
  readonly parameterCount: number;
}

/** Tensors start on 256-byte boundaries so any of them can also be bound or copied on its own. */
const TENSOR_ALIGN_FLOATS = 64;

export function paramLayout(layers: readonly number[]): ParamLayout {
  if (layers.length < 2 || layers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InputError(`layer sizes must be at least two positive integers, got ${layers.join(',')}`);
  }
  const dense: DenseLayout[] = [];
  const tensors: TensorLayout[] = [];
  let offset = 0;
  const place = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name, shape, offset, size });
    const at = offset;
    offset += Math.ceil(size / TENSOR_ALIGN_FLOATS) * TENSOR_ALIGN_FLOATS;
    return at;
  };
  for (let l = 0; l + 1 < layers.length; l++) {
    const inFeatures = layers[l]!;
    const outFeatures = layers[l + 1]!;
    const weightOffset = place(`l${l + 1}.weight`, [outFeatures, inFeatures]);
    const biasOffset = place(`l${l + 1}.bias`, [outFeatures]);
    dense.push({ inFeatures, outFeatures, weightOffset, biasOffset });
  }
  const parameterCount = tensors.reduce((a, t) => a + t.size, 0);
  return { layers: [...layers], dense, tensors, totalFloats: offset, parameterCount };
}

/**
 * PyTorch's default nn.Linear init: kaiming_uniform_(a=√5) for the weight, which is U(±1/√fan_in),
 * and U(±1/√fan_in) for the bias. (Same distribution as PyTorch, not the same random stream: use
 * `--init` with a file saved by PyTorch for bit-identical starting weights.)
 */
export function initParams(layout: ParamLayout, rng: Rng): Float32Array {
  const flat = new Float32Array(layout.totalFloats);
  for (const d of layout.dense) {
    const bound = 1 / Math.sqrt(d.inFeatures);
    for (let i = 0; i < d.inFeatures * d.outFeatures; i++) flat[d.weightOffset + i] = (rng.nextFloat() * 2 - 1) * bound;
    for (let i = 0; i < d.outFeatures; i++) flat[d.biasOffset + i] = (rng.nextFloat() * 2 - 1) * bound;
  }
  return flat;
}

export function stateDictFromFlat(layout: ParamLayout, flat: Float32Array): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const t of layout.tensors) out.set(t.name, { shape: [...t.shape], data: flat.slice(t.offset, t.offset + t.size) });
  return out;
}

export function flatFromStateDict(layout: ParamLayout, tensors: Map<string, Tensor>, fileName: string): Float32Array {
  checkStateDict(
    tensors,
    layout.tensors.map((t) => ({ name: t.name, shape: t.shape })),
    fileName,
  );
  const flat = new Float32Array(layout.totalFloats);
  for (const t of layout.tensors) flat.set(tensors.get(t.name)!.data, t.offset);
  return flat;
}

/** The layer sizes of a state dict named like the seed's (l1.weight [out, in], …), or undefined when it is not one. */
export function layersOfStateDict(tensors: Map<string, Tensor>): number[] | undefined {
  const layers: number[] = [];
  for (let l = 1; tensors.has(`l${l}.weight`); l++) {
    const shape = tensors.get(`l${l}.weight`)!.shape;
    if (shape.length !== 2) return undefined;
    if (l === 1) layers.push(shape[1]!);
    else if (layers[layers.length - 1] !== shape[1]) return undefined;
    layers.push(shape[0]!);
  }
  return layers.length >= 2 ? layers : undefined;
}
