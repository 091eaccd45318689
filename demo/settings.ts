/**
 * The settings panel: reads and checks the form into RunSettings, shows the parameter count of
 * the layer sizes as they are typed, and shows the fields of the chosen optimizer and schedule
 * (β1/β2 for Adam and AdamW, momentum for SGD; step size and γ for the step schedule).
 */
import { InputError } from '../src/index.ts';
import type { OptimizerKind, RunSettings, ScheduleKind } from './protocol.ts';
import { byId, formatCount, setText } from './ui.ts';

const INPUTS = 784;
const CLASSES = 10;
const MAX_WIDTH = 4096;
const MAX_HIDDEN = 8;

/** Weights and biases of an MLP with these layer sizes. */
export function parameterCount(layers: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < layers.length; i++) n += layers[i - 1]! * layers[i]! + layers[i]!;
  return n;
}

/** "512, 256" or "512-256" → [784, 512, 256, 10]; an InputError says what is wrong. */
export function parseHidden(text: string): number[] {
  const parts = text
    .split(/[\s,;\-–x×]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length > MAX_HIDDEN) throw new InputError(`at most ${MAX_HIDDEN} hidden layers, got ${parts.length}`);
  const hidden = parts.map((p) => {
    const n = Number(p);
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_WIDTH)
      throw new InputError(`a layer size must be a whole number from 1 to ${MAX_WIDTH}, got “${p}”`);
    return n;
  });
  return [INPUTS, ...hidden, CLASSES];
}

export class SettingsForm {
  readonly el = {
    epochs: byId<HTMLInputElement>('epochs'),
    batchSize: byId<HTMLInputElement>('batch-size'),
    lr: byId<HTMLInputElement>('lr'),
    momentum: byId<HTMLInputElement>('momentum'),
    seed: byId<HTMLInputElement>('seed'),
    optimizer: byId<HTMLSelectElement>('optimizer'),
    weightDecay: byId<HTMLInputElement>('weight-decay'),
    beta1: byId<HTMLInputElement>('beta1'),
    beta2: byId<HTMLInputElement>('beta2'),
    layers: byId<HTMLInputElement>('layers'),
    paramCount: byId('param-count'),
    schedule: byId<HTMLSelectElement>('schedule'),
    warmup: byId<HTMLInputElement>('warmup'),
    stepSize: byId<HTMLInputElement>('step-size'),
    gamma: byId<HTMLInputElement>('gamma'),
  };
  constructor() {
    const { el } = this;
    for (const input of this.inputs()) input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
    el.layers.addEventListener('input', () => this.showParameterCount());
    el.optimizer.addEventListener('change', () => this.showOptimizerFields());
    el.schedule.addEventListener('change', () => this.showOptimizerFields());
    this.showParameterCount();
    this.showOptimizerFields();
  }

  private inputs(): (HTMLInputElement | HTMLSelectElement)[] {
    const { el } = this;
    return [
      ...[el.epochs, el.batchSize, el.lr, el.momentum, el.seed, el.optimizer, el.weightDecay, el.beta1, el.beta2, el.layers],
      ...[el.schedule, el.warmup, el.stepSize, el.gamma],
    ];
  }

  private showOptimizerFields(): void {
    const adam = this.el.optimizer.value !== 'sgd';
    for (const id of ['momentum-field']) byId(id).hidden = adam;
    for (const id of ['beta1-field', 'beta2-field']) byId(id).hidden = !adam;
    for (const id of ['step-size-field', 'gamma-field']) byId(id).hidden = this.el.schedule.value !== 'step';
  }

  private showParameterCount(): void {
    try {
      const layers = parseHidden(this.el.layers.value);
      this.el.layers.removeAttribute('aria-invalid');
      setText(this.el.paramCount, `${layers.join('-')}: ${formatCount(parameterCount(layers))} parameters`);
      delete this.el.paramCount.dataset.invalid;
    } catch (error) {
      this.el.layers.setAttribute('aria-invalid', 'true');
      setText(this.el.paramCount, (error as Error).message);
      this.el.paramCount.dataset.invalid = 'true';
    }
  }

  /** The learning rate field's value, checked. */
  learningRate(): number {
    return this.number(this.el.lr, 'learning rate', (v) => v > 0, 'a positive number');
  }

  private number(input: HTMLInputElement, name: string, ok: (v: number) => boolean, range: string): number {
    const v = input.valueAsNumber;
    if (!Number.isFinite(v) || !ok(v)) {
      input.setAttribute('aria-invalid', 'true');
      throw new InputError(Number.isFinite(v) ? `${name} must be ${range}, got ${v}` : `${name}: enter a number`);
    }
    return v;
  }

  read(): RunSettings {
    const { el } = this;
    const whole = (v: number) => Number.isSafeInteger(v) && v >= 1;
    let layers: number[];
    try {
      layers = parseHidden(el.layers.value);
    } catch (error) {
      el.layers.setAttribute('aria-invalid', 'true');
      throw error;
    }
    return {
      epochs: this.number(el.epochs, 'epochs', whole, 'a whole number of at least 1'),
      batchSize: this.number(el.batchSize, 'batch size', whole, 'a whole number of at least 1'),
      seed: this.number(el.seed, 'seed', (v) => Number.isSafeInteger(v) && v >= 0, 'a whole number'),
      layers,
      optimizer: {
        kind: el.optimizer.value as OptimizerKind,
        lr: this.learningRate(),
        momentum: this.number(el.momentum, 'momentum', (v) => v >= 0 && v < 1, 'in [0, 1)'),
        weightDecay: this.number(el.weightDecay, 'weight decay', (v) => v >= 0, 'zero or more'),
        beta1: this.number(el.beta1, 'β1', (v) => v >= 0 && v < 1, 'in [0, 1)'),
        beta2: this.number(el.beta2, 'β2', (v) => v >= 0 && v < 1, 'in [0, 1)'),
      },
      schedule: {
        kind: el.schedule.value as ScheduleKind,
        warmupSteps: this.number(el.warmup, 'warm-up steps', (v) => Number.isSafeInteger(v) && v >= 0, 'a whole number'),
        stepSize: this.number(el.stepSize, 'decay every', whole, 'a whole number of epochs'),
        gamma: this.number(el.gamma, 'γ', (v) => v > 0 && v <= 1, 'in (0, 1]'),
      },
    };
  }

  /** Shows a run's settings (continuing a saved run). */
  show(s: RunSettings): void {
    const { el } = this;
    el.epochs.value = String(s.epochs);
    el.batchSize.value = String(s.batchSize);
    el.seed.value = String(s.seed);
    el.layers.value = s.layers.slice(1, -1).join(', ');
    el.optimizer.value = s.optimizer.kind;
    el.lr.value = String(s.optimizer.lr);
    el.momentum.value = String(s.optimizer.momentum);
    el.weightDecay.value = String(s.optimizer.weightDecay);
    el.beta1.value = String(s.optimizer.beta1);
    el.beta2.value = String(s.optimizer.beta2);
    if (s.schedule) {
      el.schedule.value = s.schedule.kind;
      el.warmup.value = String(s.schedule.warmupSteps);
      el.stepSize.value = String(s.schedule.stepSize);
      el.gamma.value = String(s.schedule.gamma);
    }
    this.showParameterCount();
    this.showOptimizerFields();
  }

  /** Everything but the learning rate is fixed once a run exists; the learning rate can change while it trains. */
  lock(fixed: boolean, busy: boolean): void {
    for (const input of this.inputs()) if (input !== this.el.lr) input.disabled = fixed || busy;
    this.el.lr.disabled = busy;
  }
}
