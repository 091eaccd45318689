/** The kernel bench's whole-step figures: a step's timed kernels summed, and whole steps replayed. */
import { dispatchCost, stepKernels, totalCost } from './costs.ts';
import type { Prepared } from './kernel-context.ts';
import { timePrepared } from './kernel-timing.ts';
import type { CaseResult, KernelBenchOptions, StepBreakdown, StepReplay, Variant } from './kernels.ts';
import {
  GpuParameters,
  Rng,
  StepStat,
  StepTable,
  TrainProgram,
  destroyDataset,
  fusesUpdate,
  hyperValues,
  initParams,
  paramLayout,
  stepValues,
  uploadDataset,
} from './engine.ts';
import { type Device as Gpu, MNIST_NORMALIZATION, datasetFrom, sgd } from '../src/index.ts';

/** The trainer's own step on this adapter: its tuning, with the update fused or not as that tuning says. */
function isTrainerStep(v: Variant, fusedUpdate: boolean): boolean {
  return v.trainerDefault && fusedUpdate === fusesUpdate(v.tuning);
}

/** A training step's dispatches (costs.ts stepKernels: the train program's plan) matched to the timed cases by kernel, layer and variant. */
export function stepBreakdown(o: KernelBenchOptions, results: readonly CaseResult[], v: Variant, fusedUpdate: boolean): StepBreakdown {
  const kernels = stepKernels(o.layers, o.batchSize, fusedUpdate);
  const parts: { name: string; microseconds: number; share: number }[] = [];
  const missing: string[] = [];
  for (const k of kernels) {
    const isMatmul = k.kernel.startsWith('dense.');
    const timed = results.find((r) => r.kernel === k.kernel && r.layer === k.layer && (!isMatmul || r.variant === v.name));
    const name = timed?.name ?? `${k.kernel}${k.layer ? ` l${k.layer}` : ''}`;
    if (!timed?.timing) missing.push(name);
    else parts.push({ name, microseconds: timed.timing.microsecondsPerDispatch, share: 0 });
  }
  const total = parts.reduce((a, p) => a + p.microseconds, 0);
  for (const p of parts) p.share = total > 0 ? p.microseconds / total : 0;
  return {
    variant: v.name,
    trainerDefault: isTrainerStep(v, fusedUpdate),
    fusedUpdate,
    dispatches: kernels.length,
    microseconds: total,
    parts,
    missing,
  };
}

/**
 * Replays whole optimizer steps as the trainer encodes them (src/model/programs/train.ts, same
 * buffers and bind groups), on a synthetic data set of 16 batches, back to back in one pass: the
 * GPU's time per step, without readbacks, snapshots or encoding on the host. Compared with the sum
 * of the isolated kernels it shows what running them in sequence costs (caches, barriers); compared
 * with the training bench's steady ms/step, what the host side costs.
 */
export async function replaySteps(
  gpu: Gpu,
  o: KernelBenchOptions,
  v: Variant,
  fusedUpdate: boolean,
  useTimestamps: boolean,
): Promise<StepReplay> {
  const layout = paramLayout(o.layers);
  const B = o.batchSize;
  const slots = 16;
  const count = B * slots;
  const features = o.layers[0]!;
  const rng = new Rng(7);
  const images = new Uint8Array(count * features).map(() => rng.nextBelow(256));
  const classes = o.layers.at(-1)!;
  const labels = new Uint32Array(count).map(() => rng.nextBelow(classes));
  const made: GPUBuffer[] = [];
  const dataset = uploadDataset(
    gpu,
    datasetFrom({ features: images, labels, featureCount: features, classes, normalization: MNIST_NORMALIZATION }),
    'bench.replay',
  );
  const model = new GpuParameters(gpu, layout);
  let program: TrainProgram | undefined;
  try {
    const seedSgd = sgd({ lr: 0.01, momentum: 0.5 });
    model.setHyper(hyperValues(seedSgd, layout.totalFloats));
    model.setWeights(initParams(layout, rng));
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const order = gpu.buffers.create('bench.replay.order', count * 4, storage, rng.permutation(count));
    const stats = gpu.buffers.create(
      'bench.replay.stats',
      slots * StepStat.size,
      storage,
      new Float32Array((slots * StepStat.size) / 4).fill(Number.NaN),
    );
    const steps = new StepTable(gpu, 'bench.replay.steps', slots, B);
    steps.setOptimizerSteps(
      gpu,
      0,
      Array.from({ length: slots }, (_, i) => stepValues(seedSgd, seedSgd.lr, i + 1)),
    );
    made.push(order, stats, steps.buffer);
    program = await TrainProgram.create(gpu, model, {
      rows: B,
      dataset,
      order,
      steps,
      stats,
      tuning: v.tuning,
      fusedUpdate,
    });
    let slot = 0;
    const trainProgram = program;
    const prepared: Prepared = {
      grid: [0, 0, 0],
      encode: (pass) => trainProgram.encode(pass, slot++ % slots),
      check: async () => ({ ok: true, checked: 0, maxAbsError: 0 }),
    };
    const timing = await timePrepared(gpu, prepared, o, useTimestamps);
    const written = Math.min(slot, slots);
    const statBytes = await gpu.read(stats);
    const losses = Array.from({ length: written }, (_, i) => StepStat.read(statBytes, i).loss);
    const seconds = timing.microsecondsPerDispatch / 1e6;
    // the cost of what the program encodes: its own dispatch list
    const { flops, bytes } = totalCost(program.dispatches.map((d) => dispatchCost(d, layout, B)));
    return {
      variant: v.name,
      trainerDefault: isTrainerStep(v, fusedUpdate),
      fusedUpdate,
      dispatches: program.dispatchCount,
      finite: losses.every((l) => Number.isFinite(l)),
      timing: { ...timing, gflopsPerSecond: flops / seconds / 1e9, gbPerSecond: bytes / seconds / 1e9 },
    };
  } finally {
    program?.destroy();
    model.destroy();
    destroyDataset(gpu, dataset);
    for (const b of made) gpu.buffers.destroy(b);
  }
}
