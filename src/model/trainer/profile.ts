/**
 * One training step timed per dispatch: the step's dispatches encoded one compute pass each with
 * timestamp writes at the pass boundaries (where the device has `timestamp-query`), run on the
 * current batch, then the weights and optimizer state copied back, so the profile changes nothing
 * a later fit() sees. Without timestamps only the wall-clock time of the whole step is known.
 */
import type { Gpu } from '../../runtime/device.ts';
import type { GpuParameters } from '../parameters.ts';
import type { TrainProgram } from '../programs/train.ts';

export interface DispatchTime {
  /** `gather`, `l1.forward`, `l5.train_head`, `l1.grad_weight_sgd`, …: the layer first */
  readonly label: string;
  /** GPU time in milliseconds; NaN without timestamps */
  readonly ms: number;
}

export interface StepProfile {
  /** whether the times come from GPU timestamps (else only `totalMs`, a wall-clock time, is known) */
  readonly timestamps: boolean;
  /** samples in the profiled batch */
  readonly rows: number;
  /** every dispatch of one optimizer step, in encoding order */
  readonly dispatches: readonly DispatchTime[];
  /** the sum of the dispatches' GPU times; without timestamps the step's time from submit to done */
  readonly totalMs: number;
}

/** Runs one timed step of `program` at StepTable slot `slot` and puts the model's state back. */
export async function profileStep(gpu: Gpu, model: GpuParameters, program: TrainProgram, slot: number): Promise<StepProfile> {
  const labels = program.dispatches.map((d) => d.label);
  const device = gpu.device;
  const timestamps = gpu.hasTimestamps;
  const bytes = model.layout.totalFloats * 4;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const savedParams = gpu.buffers.create('profile.params', bytes, usage);
  const savedState = gpu.buffers.create('profile.optimizer', model.optState.size, usage);
  const count = labels.length * 2;
  const querySet = timestamps ? device.createQuerySet({ type: 'timestamp', count, label: 'profile.timestamps' }) : undefined;
  const resolved = timestamps
    ? gpu.buffers.create('profile.resolved', count * 8, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC)
    : undefined;
  try {
    const current = model.params[model.current];
    const encoder = device.createCommandEncoder({ label: 'profile.step' });
    encoder.copyBufferToBuffer(current, 0, savedParams, 0, bytes);
    encoder.copyBufferToBuffer(model.optState, 0, savedState, 0, model.optState.size);
    program.encodeTimed(encoder, slot, querySet);
    // The step wrote the other parameter buffer (fused update) or this one (separate update), and
    // the optimizer's state: put back what was there, so the profile leaves no trace.
    encoder.copyBufferToBuffer(savedParams, 0, current, 0, bytes);
    encoder.copyBufferToBuffer(savedState, 0, model.optState, 0, model.optState.size);
    if (querySet && resolved) encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
    const start = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    const wallMs = performance.now() - start;
    gpu.check();
    if (!resolved)
      return { timestamps: false, rows: program.rows, dispatches: labels.map((label) => ({ label, ms: NaN })), totalMs: wallMs };
    const ticks = new BigInt64Array(await gpu.read(resolved));
    const dispatches = labels.map((label, i) => {
      const ns = Number(ticks[2 * i + 1]! - ticks[2 * i]!);
      // Begin and end can come back equal (quantized) or, on some drivers, out of order: never negative.
      return { label, ms: Math.max(0, ns) / 1e6 };
    });
    return { timestamps: true, rows: program.rows, dispatches, totalMs: dispatches.reduce((a, d) => a + d.ms, 0) };
  } finally {
    querySet?.destroy();
    for (const b of [savedParams, savedState, resolved]) if (b) gpu.buffers.destroy(b);
  }
}
