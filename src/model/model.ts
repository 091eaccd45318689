/** What is trained: today an MLP of any layer sizes with ReLU between layers (PyTorch nn.Linear layout). */
import { InputError } from '../runtime/errors.ts';
import { paramLayout } from './layout.ts';

export interface MlpSpec {
  readonly kind: 'mlp';
  /** inputs, hidden sizes…, classes: [784, 512, 256, 128, 64, 10] is the PyTorch tutorial's */
  readonly layers: readonly number[];
}

export type ModelSpec = MlpSpec;

/** An MLP: nn.Linear(layers[i], layers[i+1]) for each i, ReLU after every one but the last. */
export function mlp(layers: readonly number[]): MlpSpec {
  if (!Array.isArray(layers)) throw new InputError('mlp() takes the layer sizes, e.g. mlp([784, 512, 10])');
  paramLayout(layers);
  return Object.freeze({ kind: 'mlp', layers: Object.freeze([...layers]) });
}

export function checkModel(m: unknown): ModelSpec {
  if (typeof m !== 'object' || m === null || (m as { kind?: unknown }).kind !== 'mlp') {
    throw new InputError('model must be made by mlp([...layer sizes])');
  }
  return mlp((m as MlpSpec).layers);
}
