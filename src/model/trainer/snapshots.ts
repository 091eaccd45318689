/**
 * A ring of snapshots of the weights and the optimizer's state, one taken (on the GPU, by buffer
 * copies) at the start of every command buffer: when a readback finds a non-finite loss or update,
 * both roll back to the newest snapshot taken before the bad step, which produced only finite values.
 */
import type { Gpu } from '../../runtime/device.ts';
import type { GpuParameters } from '../parameters.ts';

export class SnapshotRing {
  private readonly buffers: GPUBuffer[];
  private readonly states: GPUBuffer[];
  private readonly steps: number[];
  private next = 0;

  constructor(
    private readonly gpu: Gpu,
    private readonly model: GpuParameters,
    /** one more than the command buffers that can be in flight, so the oldest one's snapshot survives */
    size: number,
  ) {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.buffers = Array.from({ length: size }, (_, i) => gpu.buffers.create(`params.snapshot${i}`, model.layout.totalFloats * 4, usage));
    this.states = this.buffers.map((_, i) => gpu.buffers.create(`optimizer.snapshot${i}`, model.optState.size, usage));
    this.steps = this.buffers.map(() => -1);
  }

  /** Encodes a copy of the current weights, as they are before global step `step`. */
  take(encoder: GPUCommandEncoder, step: number): void {
    const slot = this.next;
    this.next = (this.next + 1) % this.buffers.length;
    encoder.copyBufferToBuffer(this.model.params[this.model.current], 0, this.buffers[slot]!, 0, this.model.layout.totalFloats * 4);
    encoder.copyBufferToBuffer(this.model.optState, 0, this.states[slot]!, 0, this.model.optState.size);
    this.steps[slot] = step;
  }

  /** Puts back the newest snapshot taken at or before `badStep`; returns the step it was taken before, or undefined if none. */
  async rollBack(badStep: number): Promise<number | undefined> {
    let best = -1;
    for (let i = 0; i < this.buffers.length; i++) {
      const s = this.steps[i]!;
      if (s >= 0 && s <= badStep && (best < 0 || s > this.steps[best]!)) best = i;
    }
    if (best < 0) return undefined;
    const n = this.model.layout.totalFloats;
    const state = new Float32Array(await this.gpu.read(this.states[best]!));
    const tensors = Array.from({ length: this.model.stateTensors }, (_, i) => state.subarray(i * n, (i + 1) * n));
    this.model.setWeights(new Float32Array(await this.gpu.read(this.buffers[best]!)), tensors);
    return this.steps[best]!;
  }

  destroy(): void {
    for (const b of [...this.buffers, ...this.states]) this.gpu.buffers.destroy(b);
  }
}
