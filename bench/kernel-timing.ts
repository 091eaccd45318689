/** Timing a prepared dispatch: passes of back-to-back dispatches, by timestamp queries when the device has them, else by wall clock. */
import type { Prepared } from './kernel-context.ts';
import type { CaseResult, KernelBenchOptions } from './kernels.ts';
import { median } from './workload.ts';
import { type Device as Gpu } from '../src/index.ts';
import { pollCompetesWithDevice } from './engine.ts';

/**
 * Runs `reps` dispatches in each of `passes` compute passes, in one submit; times the passes with
 * timestamps when given a query set. Where the device computes on the CPU and the wait polls on the
 * host thread (lavapipe under Dawn's Node binding: src/model/trainer/submit-ring.ts MapPacer), the
 * poll takes a core from the kernel being timed, so the wait begins after `sleepSeconds`: the caller
 * gives less than the submit takes (sleeping past its end would add to the wall-clock figures).
 */
export async function submitPasses(
  gpu: Gpu,
  p: Prepared,
  reps: number,
  passes: number,
  querySet?: GPUQuerySet,
  sleepSeconds = 0,
): Promise<number> {
  const encoder = gpu.device.createCommandEncoder({ label: 'bench.kernels' });
  for (let i = 0; i < passes; i++) {
    const pass = encoder.beginComputePass(
      querySet
        ? { label: 'bench.kernels', timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } }
        : { label: 'bench.kernels' },
    );
    for (let r = 0; r < reps; r++) p.encode(pass);
    pass.end();
  }
  const start = performance.now();
  gpu.device.queue.submit([encoder.finish()]);
  if (sleepSeconds > 0 && pollCompetesWithDevice(gpu)) await new Promise((ok) => setTimeout(ok, 1000 * sleepSeconds));
  await gpu.device.queue.onSubmittedWorkDone();
  gpu.check();
  return (performance.now() - start) / 1000;
}

export async function timePrepared(
  gpu: Gpu,
  p: Prepared,
  o: KernelBenchOptions,
  useTimestamps: boolean,
): Promise<NonNullable<CaseResult['timing']>> {
  // Calibrate: one dispatch, then enough to see past the submit latency.
  let perDispatch = await submitPasses(gpu, p, 1, 1);
  const probe = Math.max(1, Math.min(o.maxReps, Math.floor(o.passSeconds / Math.max(perDispatch, 1e-7) / 4)));
  if (probe > 1) perDispatch = (await submitPasses(gpu, p, probe, 1)) / probe;
  // That wait polled, up to 1.5× slow on lavapipe's two cores: again, sleeping through half of it.
  if (probe > 1 && pollCompetesWithDevice(gpu))
    perDispatch = (await submitPasses(gpu, p, probe, 1, undefined, 0.5 * probe * perDispatch)) / probe;
  const reps = Math.max(1, Math.min(o.maxReps, Math.round(o.passSeconds / Math.max(perDispatch, 1e-7))));
  const passSeconds = reps * perDispatch;
  const samples = Math.max(3, Math.min(o.samples, Math.floor(o.caseSeconds / Math.max(passSeconds, 1e-9))));

  const perPass: number[] = [];
  let wall = 0;
  let method: 'timestamp-query' | 'wall-clock' = 'wall-clock';
  if (useTimestamps) {
    const querySet = gpu.device.createQuerySet({ label: 'bench.timestamps', type: 'timestamp', count: 2 * samples });
    const resolve = gpu.buffers.create('bench.timestamps', 16 * samples, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
    try {
      const encoderWall = await submitPasses(gpu, p, reps, samples, querySet, 0.8 * samples * passSeconds);
      const encoder = gpu.device.createCommandEncoder({ label: 'bench.timestamps.resolve' });
      encoder.resolveQuerySet(querySet, 0, 2 * samples, resolve, 0);
      gpu.device.queue.submit([encoder.finish()]);
      const stamps = new BigUint64Array(await gpu.read(resolve));
      for (let i = 0; i < samples; i++) perPass.push(Number(stamps[2 * i + 1]! - stamps[2 * i]!) / 1e9);
      wall = encoderWall;
      // A device may report zeros (timestamps unsupported inside this queue or quantized away): fall back to the wall clock.
      if (perPass.every((t) => t > 0)) method = 'timestamp-query';
      else perPass.length = 0;
    } finally {
      querySet.destroy();
      gpu.buffers.destroy(resolve);
    }
  }
  if (method === 'wall-clock') {
    wall = 0;
    for (let i = 0; i < samples; i++) {
      const t = await submitPasses(gpu, p, reps, 1, undefined, 0.8 * passSeconds);
      perPass.push(t);
      wall += t;
    }
  }
  const per = perPass.map((t) => t / reps);
  return {
    method,
    reps,
    samples,
    microsecondsPerDispatch: median(per)! * 1e6,
    minMicrosecondsPerDispatch: Math.min(...per) * 1e6,
    wallMicrosecondsPerDispatch: (wall / (reps * samples)) * 1e6,
    gflopsPerSecond: 0,
    gbPerSecond: 0,
  };
}
