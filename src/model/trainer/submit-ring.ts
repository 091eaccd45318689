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
  private readonly pacer: MapPacer | undefined;

  /** `paced`: start each chunk's readback near its expected completion (MapPacer), not at submit */
  constructor(
    private readonly gpu: Gpu,
    private readonly stepsPerSubmit: number,
    paced = false,
  ) {
    this.pacer = paced ? new MapPacer() : undefined;
  }

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
    const submittedAt = performance.now();
    const encodeSeconds = (submittedAt - encodeStart) / 1000;
    const map = () => this.gpu.mapRead(staging);
    const done = this.pacer ? this.pacer.schedule(submittedAt, map) : map();
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
 * Starts each chunk's map near the time its work should be done rather than at submit. For a device
 * that runs on the CPU's own cores (lavapipe) under Dawn's Node binding, which waits for a pending
 * map by re-queuing a setImmediate tick until it resolves: a map pending the whole chunk keeps a
 * core busy polling, one of the two the device computes on (measured: a 200 ms dispatch with
 * LP_NUM_THREADS=1 took 420 ms of CPU with the map pending, 200 with it started after).
 *
 * Chunks run in order, so chunk i starts when it was submitted or when chunk i − 1 finished,
 * whichever is later, and takes about `duration`: its map starts at nine tenths of that. A map
 * that waits tells when the chunk finished (the map resolves then) and gives a new sample of the
 * duration; one that resolves at once means the chunk was done before, so the estimate shrinks, by
 * 15%. Waking early costs a short poll; waking late costs nothing while the chunk behind it keeps
 * the device busy (so the trainer paces only with maxInFlight ≥ 2), but an estimate too long by
 * more than a chunk leaves the device idle until it has shrunk, as when the host's memory speeds up
 * (seen here: a step 2× faster from one minute to the next), hence the early wake and the quick
 * shrink (the process's CPU over wall time, 300 steps: 1.27–1.58 waking at the estimate and
 * shrinking by 5%, 1.59–1.63 so). The first chunk, whose duration is unknown (it also compiles),
 * maps at once. Measured on lavapipe, 300 seed steps: 17.1–17.6 ms a step unpaced, 12.0–13.0 paced,
 * the process's CPU time 10.5 → 6.6 s (bench/RESULTS.md, fifth session).
 */
export class MapPacer {
  private previous: Promise<unknown> = Promise.resolve();
  /** when the last chunk was seen finished (performance.now() ms) */
  private finishedAt = 0;
  /** a chunk's expected device time in ms; 0 until a chunk after the first was timed */
  private duration = 0;
  private scheduled = false;

  schedule(submittedAt: number, map: () => Promise<void>): Promise<void> {
    const first = !this.scheduled;
    this.scheduled = true;
    const run = this.previous.then(async () => {
      const start = Math.max(submittedAt, this.finishedAt);
      const wait = start + 0.9 * this.duration - performance.now();
      if (wait > 1) await new Promise((ok) => setTimeout(ok, wait));
      const mapStart = performance.now();
      await map();
      const end = performance.now();
      if (end - mapStart > 1) {
        // it waited: the chunk finished just now
        if (!first) this.duration = this.duration ? 0.7 * this.duration + 0.3 * (end - start) : end - start;
        this.finishedAt = end;
      } else {
        // done before the map began, or by the prediction if the timer woke late (taking the
        // map's start then would add the lateness to the next chunk's start); expect a shorter one
        this.finishedAt = Math.min(mapStart, start + this.duration);
        this.duration *= 0.85;
      }
    });
    // a failed map fails its own chunk; the next one still waits its turn
    this.previous = run.catch(() => {});
    return run;
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
