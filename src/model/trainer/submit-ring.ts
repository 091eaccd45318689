/**
 * The in-flight side of training: each command buffer holds many optimizer steps and ends with a
 * copy of those steps' StepStat records into a staging buffer; the CPU maps it asynchronously
 * while later command buffers are already queued, and decodes losses and correct counts from it.
 */
import { StepStat } from '../../kernels/records.ts';
import { DivergenceError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/device.ts';

export interface Chunk {
  readonly staging: GPUBuffer;
  readonly done: Promise<void>;
  /** global index of the chunk's first step */
  readonly firstStep: number;
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly count: number;
  readonly samples: number;
  /** host time spent encoding and submitting the chunk's command buffer */
  readonly encodeSeconds: number;
}

export interface ChunkStats {
  readonly losses: Float32Array;
  readonly correct: Uint32Array;
  /** non-zero where the step's update produced a non-finite parameter or optimizer-state value */
  readonly nonfinite: Uint32Array;
}

export class SubmitRing {
  private readonly pool: GPUBuffer[] = [];
  readonly inFlight: Chunk[] = [];

  constructor(
    private readonly gpu: Gpu,
    private readonly stepsPerSubmit: number,
  ) {}

  acquire(): GPUBuffer {
    return (
      this.pool.pop() ??
      this.gpu.buffers.create(
        'train.stats.readback',
        this.stepsPerSubmit * StepStat.size,
        GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      )
    );
  }

  /** Submits `encoder` after copying the chunk's stats into a staging buffer, and starts mapping it. */
  submit(
    encoder: GPUCommandEncoder,
    stats: GPUBuffer,
    chunk: Omit<Chunk, 'staging' | 'done' | 'encodeSeconds'>,
    encodeStart: number,
  ): Chunk {
    const staging = this.acquire();
    encoder.copyBufferToBuffer(stats, chunk.stepInEpoch * StepStat.size, staging, 0, chunk.count * StepStat.size);
    this.gpu.device.queue.submit([encoder.finish()]);
    const encodeSeconds = (performance.now() - encodeStart) / 1000;
    const done = this.gpu.mapRead(staging);
    // A rejection is handled where the chunk is awaited; this only keeps it from being reported as unhandled meanwhile.
    done.catch(() => {});
    const submitted = { ...chunk, staging, done, encodeSeconds };
    this.inFlight.push(submitted);
    return submitted;
  }

  /** Waits for the oldest chunk and decodes its stats. */
  async takeOldest(): Promise<{ chunk: Chunk; stats: ChunkStats }> {
    const chunk = this.inFlight.shift()!;
    try {
      await chunk.done;
    } catch (error) {
      this.release(chunk.staging);
      throw error;
    }
    return { chunk, stats: this.decode(chunk) };
  }

  private decode(chunk: Chunk): ChunkStats {
    const bytes = chunk.staging.getMappedRange(0, chunk.count * StepStat.size).slice(0);
    this.release(chunk.staging);
    const losses = new Float32Array(chunk.count);
    const correct = new Uint32Array(chunk.count);
    const nonfinite = new Uint32Array(chunk.count);
    for (let i = 0; i < chunk.count; i++) {
      const stat = StepStat.read(bytes, i);
      losses[i] = stat.loss;
      correct[i] = stat.correct;
      nonfinite[i] = stat.nonfinite;
    }
    return { losses, correct, nonfinite };
  }

  /** After a failure: waits out every chunk still in flight so no buffer stays mapped or pending. */
  async drain(): Promise<void> {
    for (const chunk of this.inFlight.splice(0)) {
      await chunk.done.catch(() => {});
      this.release(chunk.staging);
    }
  }

  private release(staging: GPUBuffer): void {
    if (staging.mapState === 'mapped') staging.unmap();
    if (staging.mapState === 'unmapped') this.pool.push(staging);
    else this.gpu.buffers.destroy(staging);
  }

  destroy(): void {
    for (const b of this.pool) this.gpu.buffers.destroy(b);
    this.pool.length = 0;
  }
}

/**
 * The first step of a chunk with a non-finite loss, or whose update made a parameter or
 * the optimizer's state non-finite (the kernels' flag), as the error fit() throws
 */
export function divergenceIn(chunk: Chunk, stats: ChunkStats): DivergenceError | undefined {
  for (let i = 0; i < chunk.count; i++) {
    const step = chunk.firstStep + i;
    if (!Number.isFinite(stats.losses[i]!)) {
      return new DivergenceError(
        `training diverged: the loss of step ${step + 1} is ${stats.losses[i]} (try a smaller learning rate)`,
        step,
      );
    }
    if (stats.nonfinite[i]) {
      return new DivergenceError(
        `training diverged: the update of step ${step + 1} made a weight or the optimizer's state NaN or infinite (try a smaller learning rate)`,
        step,
      );
    }
  }
  return undefined;
}
