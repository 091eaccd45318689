/**
 * The benchmark workload, shared by `npm run bench` (in a Chromium page) and `npm run bench:node`
 * (Dawn in Node): the seed program's MLP trained on MNIST with the engine's Trainer, timed, and
 * summed up in one result document. Nothing here touches `node:*` or the DOM, so both use it as is.
 */
import {
  datasetSlice,
  InputError,
  mlp,
  SEED_LAYERS,
  sgd,
  Trainer,
  type AdapterSummary,
  type ChunkReport,
  type Dataset,
  type Device,
  type EpochReport,
  type LrSchedule,
  type Optimizer,
  type MnistLike,
  type TrainerOptions,
} from '../src/index.ts';
import { stepCost } from './costs.ts';
import { tuningForVariant, variantOf } from './tunings.ts';

export const RESULT_SCHEMA = 'webgpu-mnist-bench/1';
/** The accuracy whose first crossing `timeTo97Seconds` reports. */
export const TARGET_ACCURACY = 0.97;

/** What to run; plain JSON, because puppeteer carries it into the page. */
export interface WorkloadOptions {
  readonly epochs: number;
  readonly maxSteps?: number;
  readonly batchSize?: number;
  /** train on the first N training samples only (smoke runs) */
  readonly trainSubset?: number;
  /** evaluate on the first N test samples only (smoke runs) */
  readonly testSubset?: number;
  readonly stepsPerSubmit?: number;
  readonly maxInFlight?: number;
  readonly seed?: number;
  /** the optimizer fused into the weight-gradient kernels or as its own pass; default the adapter's tuning */
  readonly fusedUpdate?: boolean;
  /** the matmul variant (tunings.ts: `tiles`, `rows`, …) instead of the trainer's choice for the adapter */
  readonly variant?: string;
  /** default the seed's SGD (lr 0.01, momentum 0.5) */
  readonly optimizer?: Optimizer;
  readonly schedule?: LrSchedule;
}

export const DEFAULT_EPOCHS = 10;

export interface EpochResult {
  /** 1-based, as the seed program prints it */
  readonly epoch: number;
  readonly steps: number;
  /** stopped early at --max-steps */
  readonly partial: boolean;
  /** training time: first submit of the epoch until its last step's losses were back (evaluation not included) */
  readonly seconds: number;
  readonly samplesPerSecond: number;
  /** the step's minimal FLOPs (costs.ts) × steps / seconds */
  readonly gflopsPerSecond: number;
  readonly trainLoss: number | null;
  readonly trainAccuracy: number | null;
  readonly testLoss: number | null;
  readonly testAccuracy: number | null;
  readonly evalSeconds: number;
  /** CPU time the process spent in the epoch's training (Node: Dawn and a CPU adapter's threads run in it); null in a page */
  readonly cpuSeconds: number | null;
}

export interface BenchResult {
  readonly schema: typeof RESULT_SCHEMA;
  /** ISO time the run finished */
  readonly date: string;
  readonly runtime: 'chrome' | 'node';
  /** versions and host: node, webgpu (Dawn) package, browser, user agent, CPU count … */
  readonly environment: Readonly<Record<string, string | number>>;
  readonly command: string;
  readonly adapter: AdapterSummary;
  readonly isFallback: boolean;
  readonly workload: {
    readonly layers: readonly number[];
    readonly batchSize: number;
    readonly epochs: number;
    readonly maxSteps: number | null;
    readonly trainSamples: number;
    readonly testSamples: number;
    readonly stepsPerEpoch: number;
    readonly lr: number;
    readonly optimizer: Optimizer;
    readonly schedule: LrSchedule;
    readonly seed: number;
    readonly fusedUpdate: boolean;
    readonly maxInFlight: number;
    /** the matmul kernels' variant and workgroup (src/model/programs/tuning.ts) */
    readonly matmul: { readonly variant: string; readonly wgX: number; readonly wgY: number; readonly split: number };
  };
  readonly stepsPerSubmit: number;
  readonly dispatchesPerStep: number;
  /** minimal work of one full-batch optimizer step (costs.ts) */
  readonly perStep: { readonly flops: number; readonly bytes: number; readonly matmulFlops: number };
  /** reading (and decompressing) the MNIST files */
  readonly loadSeconds: number;
  /** Trainer.create: uploads the data set and compiles every pipeline */
  readonly compileSeconds: number;
  readonly pipelinesCompiled: number;
  /** the first submit's time beyond what its steps take in steady state (first-use costs); null without steady-state chunks */
  readonly warmupSeconds: number | null;
  readonly firstSubmit: { readonly steps: number; readonly seconds: number };
  /** median time per step over the submits after each epoch's first */
  readonly steadyStepMilliseconds: number | null;
  /** median host time per step spent encoding and submitting (all submits): the floor the CPU sets on a step */
  readonly encodeStepMicroseconds: number;
  readonly epochs: readonly EpochResult[];
  readonly totalSteps: number;
  /** Σ epoch seconds (evaluation not included) */
  readonly trainSeconds: number;
  readonly samplesPerSecond: number;
  readonly gflopsPerSecond: number;
  /** training seconds (Σ epoch seconds) up to the end of the first epoch whose test accuracy is ≥ 97%, null if none */
  readonly timeTo97Seconds: number | null;
  readonly epochTo97: number | null;
}

export interface RunContext {
  readonly runtime: BenchResult['runtime'];
  readonly environment: BenchResult['environment'];
  readonly command: string;
  readonly loadSeconds: number;
  /** progress lines for a person (stderr in Node, the console in a page) */
  readonly log?: (line: string) => void;
  /** seconds between progress lines (default 10) */
  readonly progressEverySeconds?: number;
  /** the process's CPU time so far, in seconds (Node: process.cpuUsage), to tell work from waiting on a shared CPU */
  readonly cpuClock?: () => number;
}

export function subsetSplit(split: Dataset, count: number | undefined, what: string): Dataset {
  if (count === undefined) return split;
  if (!Number.isSafeInteger(count) || count < 1) throw new InputError(`the ${what} subset must be a positive integer, got ${count}`);
  if (count >= split.count) return split;
  return datasetSlice(split, 0, count);
}

export function subsetMnist(data: MnistLike, o: WorkloadOptions): MnistLike {
  return { train: subsetSplit(data.train, o.trainSubset, 'training'), test: subsetSplit(data.test, o.testSubset, 'test') };
}

/** The seed program's run (SGD lr 0.01 momentum 0.5, batch 64, seed 1) with the workload's changes. */
function trainerOptions(data: MnistLike, o: WorkloadOptions): TrainerOptions {
  let tuning;
  if (o.variant) {
    tuning = tuningForVariant(o.variant);
    if (!tuning) throw new InputError(`this engine has no '${o.variant}' matmul variant`);
  }
  return {
    model: mlp(SEED_LAYERS),
    optimizer: o.optimizer ?? sgd({ lr: 0.01, momentum: 0.5 }),
    ...(o.schedule ? { schedule: o.schedule } : {}),
    train: data.train,
    test: data.test,
    batchSize: o.batchSize ?? 64,
    seed: o.seed ?? 1,
    ...(o.stepsPerSubmit !== undefined ? { stepsPerSubmit: o.stepsPerSubmit } : {}),
    ...(o.maxInFlight !== undefined ? { maxInFlight: o.maxInFlight } : {}),
    ...(o.fusedUpdate !== undefined ? { fusedUpdate: o.fusedUpdate } : {}),
    ...(tuning ? { tuning } : {}),
  };
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

interface ChunkTime {
  readonly steps: number;
  readonly seconds: number;
  readonly firstOfEpoch: boolean;
  readonly encodeSeconds: number;
}

/** Trains the seed MLP as `options` say and measures it. The caller owns `gpu`. */
export async function runWorkload(gpu: Device, mnist: MnistLike, options: WorkloadOptions, context: RunContext): Promise<BenchResult> {
  const log = context.log ?? (() => {});
  const data = subsetMnist(mnist, options);
  const compiledBefore = gpu.pipelines.compiled;
  const createStart = performance.now();
  const trainer = await Trainer.create(gpu, trainerOptions(data, options));
  const config = trainer.config;
  try {
    const compileSeconds = (performance.now() - createStart) / 1000;
    const pipelinesCompiled = gpu.pipelines.compiled - compiledBefore;
    const dispatchesPerStep = await trainer.dispatchesPerStep();
    const cost = stepCost(config.layers, config.batchSize, config.fusedUpdate);
    if (cost.dispatches !== dispatchesPerStep) {
      log(
        `warning: bench/costs.ts lists ${cost.dispatches} dispatches a step, the trainer encodes ${dispatchesPerStep}: FLOP figures may be off`,
      );
    }
    const totalSteps = Math.min(options.epochs * trainer.stepsPerEpoch, options.maxSteps ?? Infinity);
    log(
      `model ${config.layers.join('-')}, ${data.train.count}/${data.test.count} samples, batch ${config.batchSize}, ` +
        `${trainer.stepsPerEpoch} steps/epoch, ${totalSteps} steps, ${dispatchesPerStep} dispatches/step, ` +
        `${config.stepsPerSubmit} steps/submit, matmul ${variantOf(config.tuning)}; set-up ${compileSeconds.toFixed(2)} s (${pipelinesCompiled} pipelines)`,
    );

    // CPU time of an epoch's training: from its start to its last chunk's readback, which comes
    // before the evaluation (the epoch report arrives after it).
    const cpuClock = context.cpuClock;
    let cpuAtEpochStart = 0;
    let cpuAtLastChunk = 0;
    const chunks: ChunkTime[] = [];
    let lastEpoch = -1;
    let lastElapsed = 0;
    let lastLog = performance.now();
    const every = (context.progressEverySeconds ?? 10) * 1000;
    const onChunk = (r: ChunkReport) => {
      cpuAtLastChunk = cpuClock?.() ?? 0;
      const firstOfEpoch = r.epoch !== lastEpoch;
      if (firstOfEpoch) lastElapsed = 0;
      chunks.push({ steps: r.losses.length, seconds: r.epochElapsedSeconds - lastElapsed, firstOfEpoch, encodeSeconds: r.encodeSeconds });
      lastEpoch = r.epoch;
      lastElapsed = r.epochElapsedSeconds;
      if (performance.now() - lastLog >= every) {
        lastLog = performance.now();
        const done = r.firstStep + r.losses.length;
        log(
          `epoch ${r.epoch + 1} step ${r.stepInEpoch + r.losses.length}/${r.stepsPerEpoch} (${done}/${totalSteps}) ` +
            `loss ${r.losses[r.losses.length - 1]!.toFixed(3)}, ${Math.round(r.samplesPerSecond)} samples/s`,
        );
      }
    };
    const epochs: EpochResult[] = [];
    const onEpoch = (e: EpochReport) => {
      const cpuNow = cpuClock?.() ?? 0;
      const samples = e.samplesPerSecond * e.seconds;
      const result: EpochResult = {
        epoch: e.epoch + 1,
        steps: e.steps,
        partial: e.partial,
        seconds: e.seconds,
        samplesPerSecond: e.samplesPerSecond,
        gflopsPerSecond: (cost.flops * (samples / config.batchSize)) / Math.max(e.seconds, 1e-9) / 1e9,
        trainLoss: finite(e.trainLoss),
        trainAccuracy: finite(e.trainAccuracy),
        testLoss: e.test ? finite(e.test.loss) : null,
        testAccuracy: e.test ? finite(e.test.accuracy) : null,
        evalSeconds: e.test?.seconds ?? 0,
        cpuSeconds: cpuClock ? cpuAtLastChunk - cpuAtEpochStart : null,
      };
      epochs.push(result);
      cpuAtEpochStart = cpuNow;
      log(
        `epoch ${result.epoch}${e.partial ? ' (partial)' : ''}: ${e.seconds.toFixed(2)} s, ${Math.round(e.samplesPerSecond)} samples/s, ` +
          `test accuracy ${(100 * (e.test?.accuracy ?? NaN)).toFixed(2)}%`,
      );
    };
    cpuAtEpochStart = cpuClock?.() ?? 0;
    await trainer.fit({
      epochs: options.epochs,
      ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
      onChunk,
      onEpoch,
    });

    const steady = median(chunks.filter((c) => !c.firstOfEpoch).map((c) => c.seconds / c.steps));
    const first = chunks[0] ?? { steps: 0, seconds: 0 };
    let elapsed = 0;
    let timeTo97: number | null = null;
    let epochTo97: number | null = null;
    for (const e of epochs) {
      elapsed += e.seconds;
      if (timeTo97 === null && e.testAccuracy !== null && e.testAccuracy >= TARGET_ACCURACY) {
        timeTo97 = elapsed;
        epochTo97 = e.epoch;
      }
    }
    const trainSeconds = epochs.reduce((a, e) => a + e.seconds, 0);
    const samples = epochs.reduce((a, e) => a + e.samplesPerSecond * e.seconds, 0);
    return {
      schema: RESULT_SCHEMA,
      date: new Date().toISOString(),
      runtime: context.runtime,
      environment: context.environment,
      command: context.command,
      adapter: gpu.adapter,
      isFallback: gpu.adapter.isFallback,
      workload: {
        layers: config.layers,
        batchSize: config.batchSize,
        epochs: options.epochs,
        maxSteps: options.maxSteps ?? null,
        trainSamples: data.train.count,
        testSamples: data.test.count,
        stepsPerEpoch: trainer.stepsPerEpoch,
        lr: config.optimizer.lr,
        optimizer: config.optimizer,
        schedule: config.schedule,
        seed: config.seed,
        fusedUpdate: config.fusedUpdate,
        maxInFlight: config.maxInFlight,
        matmul: { ...config.tuning.matmul },
      },
      stepsPerSubmit: config.stepsPerSubmit,
      dispatchesPerStep,
      perStep: { flops: cost.flops, bytes: cost.bytes, matmulFlops: cost.matmulFlops },
      loadSeconds: context.loadSeconds,
      compileSeconds,
      pipelinesCompiled,
      warmupSeconds: steady === null ? null : Math.max(0, first.seconds - first.steps * steady),
      firstSubmit: { steps: first.steps, seconds: first.seconds },
      steadyStepMilliseconds: steady === null ? null : steady * 1000,
      encodeStepMicroseconds: (median(chunks.map((c) => c.encodeSeconds / c.steps)) ?? 0) * 1e6,
      epochs,
      totalSteps: trainer.globalStep,
      trainSeconds,
      samplesPerSecond: samples / Math.max(trainSeconds, 1e-9),
      gflopsPerSecond: (cost.flops * (samples / config.batchSize)) / Math.max(trainSeconds, 1e-9) / 1e9,
      timeTo97Seconds: timeTo97,
      epochTo97,
    };
  } finally {
    trainer.dispose();
  }
}
