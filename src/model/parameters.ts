/** The model's parameters on the GPU, the optimizer's state, and the table of per-step parameters the step programs read. */
import { hyperData, stateTensors, type OptimizerRule } from '../kernels/optimizer.ts';
import { Hyper, StepParams, type HyperValues } from '../kernels/records.ts';
import type { Gpu } from '../runtime/device.ts';
import type { ParamLayout } from './layout.ts';

export const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** The optimizer's values of one step (StepParams without the slot and batch start). */
export interface OptimizerStep {
  readonly lr: number;
  readonly stepSize: number;
  readonly bc2Sqrt: number;
  readonly decay: number;
  readonly first: number;
}

const NO_OPTIMIZER_STEP: OptimizerStep = { lr: 0, stepSize: 0, bc2Sqrt: 1, decay: 1, first: 0 };

/**
 * A uniform buffer of StepParams records (records.ts), one per 256-byte (or whatever the device
 * requires) slot, bound with a dynamic offset: the per-step parameters of a whole epoch are
 * written once, between submits, and step i of a command buffer selects its record with offset
 * i·stride, so no writeBuffer ever lands inside a submit.
 */
export class StepTable {
  readonly buffer: GPUBuffer;
  readonly stride: number;

  constructor(
    gpu: Gpu,
    label: string,
    readonly slots: number,
    private readonly batchSize: number,
  ) {
    this.stride = Math.max(StepParams.size, gpu.device.limits.minUniformBufferOffsetAlignment);
    const bytes = this.records(
      0,
      Array.from({ length: slots }, () => NO_OPTIMIZER_STEP),
    );
    this.buffer = gpu.buffers.create(label, bytes.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, bytes);
  }

  private records(first: number, steps: readonly OptimizerStep[]): Uint8Array<ArrayBuffer> {
    const bytes = new ArrayBuffer(steps.length * this.stride);
    steps.forEach((o, i) => {
      const slot = first + i;
      StepParams.write(bytes, { slot, batchStart: slot * this.batchSize, ...o }, 0, i * this.stride);
    });
    return new Uint8Array(bytes);
  }

  /** Writes the optimizer's values of slots first, first + 1, …; call between submits only. */
  setOptimizerSteps(gpu: Gpu, first: number, steps: readonly OptimizerStep[]): void {
    if (steps.length > 0) gpu.write(this.buffer, this.records(first, steps), first * this.stride);
  }

  binding() {
    return { buffer: this.buffer, offset: 0, size: StepParams.size };
  }

  offset(slot: number): number[] {
    return [slot * this.stride];
  }
}

/**
 * The model's parameters on the GPU: two flat parameter buffers (the fused update writes one while
 * reading the other), the optimizer's state (its tensors one after another, each flat like the
 * parameters: SGD's momentum; Adam's exp_avg, exp_avg_sq), gradients and the Hyper uniform.
 */
export class GpuParameters {
  readonly params: [GPUBuffer, GPUBuffer];
  readonly optState: GPUBuffer;
  readonly stateTensors: number;
  readonly grads: GPUBuffer;
  readonly hyper: GPUBuffer;
  /** which of `params` holds the current weights */
  current: 0 | 1 = 0;

  constructor(
    private readonly gpu: Gpu,
    readonly layout: ParamLayout,
    readonly rule: OptimizerRule = 'sgd',
  ) {
    const bytes = layout.totalFloats * 4;
    this.stateTensors = stateTensors(rule);
    this.params = [gpu.buffers.create('params.a', bytes, STORAGE()), gpu.buffers.create('params.b', bytes, STORAGE())];
    this.optState = gpu.buffers.create(`optimizer.${rule}`, bytes * this.stateTensors, STORAGE());
    this.grads = gpu.buffers.create('grads', bytes, STORAGE());
    this.hyper = gpu.buffers.create('hyper', Hyper.size, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  setHyper(h: HyperValues): void {
    this.gpu.write(this.hyper, hyperData(h));
  }

  /** Replaces the weights (both copies, so either parity starts from them) and the optimizer state (zeroed unless given). */
  setWeights(flat: Float32Array, state?: readonly Float32Array[]): void {
    this.gpu.write(this.params[0], flat);
    this.gpu.write(this.params[1], flat);
    this.setState(state);
    this.current = 0;
  }

  setState(state?: readonly Float32Array[]): void {
    const n = this.layout.totalFloats;
    const all = new Float32Array(n * this.stateTensors);
    if (state) {
      if (state.length !== this.stateTensors || state.some((s) => s.length !== n))
        throw new Error('optimizer state does not match the optimizer');
      state.forEach((s, i) => all.set(s, i * n));
    }
    this.gpu.write(this.optState, all);
  }

  async readWeights(): Promise<Float32Array> {
    return new Float32Array(await this.gpu.read(this.params[this.current]));
  }

  /** The optimizer's state tensors, each flat like the weights. */
  async readState(): Promise<Float32Array[]> {
    const all = new Float32Array(await this.gpu.read(this.optState));
    const n = this.layout.totalFloats;
    return Array.from({ length: this.stateTensors }, (_, i) => all.slice(i * n, (i + 1) * n));
  }

  destroy(): void {
    for (const b of [...this.params, this.optState, this.grads, this.hyper]) this.gpu.buffers.destroy(b);
  }
}
