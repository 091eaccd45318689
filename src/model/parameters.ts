/** The model's parameters on the GPU, and the table of per-step parameters the step programs read. */
import { hyperData } from '../kernels/optimizer.ts';
import { Hyper, StepParams, type HyperValues } from '../kernels/records.ts';
import type { Gpu } from '../runtime/device.ts';
import type { ParamLayout } from './layout.ts';

export const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * A uniform buffer of StepParams { slot, batch_start } records (records.ts), one per 256-byte (or
 * whatever the device requires) slot, bound with a dynamic offset: the per-step parameters of a
 * whole epoch are written once, and step i of a command buffer selects its record with offset i·stride.
 */
export class StepTable {
  readonly buffer: GPUBuffer;
  readonly stride: number;

  constructor(
    gpu: Gpu,
    label: string,
    readonly slots: number,
    batchSize: number,
  ) {
    this.stride = Math.max(StepParams.size, gpu.device.limits.minUniformBufferOffsetAlignment);
    const bytes = new ArrayBuffer(slots * this.stride);
    for (let s = 0; s < slots; s++) StepParams.write(bytes, { slot: s, batchStart: s * batchSize }, 0, s * this.stride);
    this.buffer = gpu.buffers.create(label, bytes.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, new Uint8Array(bytes));
  }

  binding() {
    return { buffer: this.buffer, offset: 0, size: StepParams.size };
  }

  offset(slot: number): number[] {
    return [slot * this.stride];
  }
}

/** The model's parameters on the GPU: two flat parameter buffers (the fused update writes one while reading the other), momentum, gradients. */
export class GpuParameters {
  readonly params: [GPUBuffer, GPUBuffer];
  readonly velocity: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly hyper: GPUBuffer;
  /** which of `params` holds the current weights */
  current: 0 | 1 = 0;

  constructor(
    private readonly gpu: Gpu,
    readonly layout: ParamLayout,
  ) {
    const bytes = layout.totalFloats * 4;
    this.params = [gpu.buffers.create('params.a', bytes, STORAGE()), gpu.buffers.create('params.b', bytes, STORAGE())];
    this.velocity = gpu.buffers.create('momentum', bytes, STORAGE());
    this.grads = gpu.buffers.create('grads', bytes, STORAGE());
    this.hyper = gpu.buffers.create('hyper', Hyper.size, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  setHyper(h: HyperValues): void {
    this.gpu.write(this.hyper, hyperData(h));
  }

  /** Replaces the weights (both copies, so either parity starts from them) and, unless given, zeroes the momentum. */
  setWeights(flat: Float32Array, velocity?: Float32Array): void {
    this.gpu.write(this.params[0], flat);
    this.gpu.write(this.params[1], flat);
    this.gpu.write(this.velocity, velocity ?? new Float32Array(this.layout.totalFloats));
    this.current = 0;
  }

  async readWeights(): Promise<Float32Array> {
    return new Float32Array(await this.gpu.read(this.params[this.current]));
  }

  async readVelocity(): Promise<Float32Array> {
    return new Float32Array(await this.gpu.read(this.velocity));
  }

  destroy(): void {
    for (const b of [...this.params, this.velocity, this.grads, this.hyper]) this.gpu.buffers.destroy(b);
  }
}
