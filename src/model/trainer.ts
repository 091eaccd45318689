import { MNIST_NORMALIZATION } from '../kernels/data.ts';
import { STEP_STAT_BYTES } from '../kernels/softmax-ce.ts';
import { DivergenceError, InputError } from '../runtime/errors.ts';
import type { Gpu } from '../runtime/device.ts';
import type { Mnist } from './data/idx.ts';
import { flatFromStateDict, initParams, paramLayout, SEED_LAYERS, stateDictFromFlat, type ParamLayout } from './layout.ts';
import {
  DEFAULT_TUNING,
  destroyDataset,
  tuningFor,
  EvalProgram,
  GpuParameters,
  InferProgram,
  StepTable,
  TrainProgram,
  uploadDataset,
  type GpuDataset,
  type Tuning,
} from './network.ts';
import { Rng } from './rng.ts';
import type { Tensor } from './io/safetensors.ts';

export interface TrainConfig {
  readonly layers: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly seed: number;
  readonly shuffle: boolean;
  /** stop after this many optimizer steps in all (counted from the start of training) */
  readonly maxSteps?: number;
  /** the SGD update fused into the weight-gradient kernels (default) or as one pass over all parameters */
  readonly fusedUpdate: boolean;
  /** optimizer steps encoded into one command buffer; each submit ends with a copy of its losses for readback */
  readonly stepsPerSubmit: number;
  /** command buffers allowed in flight before the CPU waits for the oldest one's losses */
  readonly maxInFlight: number;
  readonly evalBatchSize: number;
  readonly tuning: Tuning;
}

export const DEFAULT_CONFIG: TrainConfig = {
  layers: SEED_LAYERS,
  epochs: 10,
  batchSize: 64,
  lr: 0.01,
  momentum: 0.5,
  weightDecay: 0,
  seed: 1,
  shuffle: true,
  fusedUpdate: true,
  stepsPerSubmit: 64,
  maxInFlight: 3,
  evalBatchSize: 1000,
  tuning: DEFAULT_TUNING,
};

/** Sensible defaults for an adapter: software adapters get short submits so progress stays live. */
export function configFor(gpu: Gpu, overrides: Partial<TrainConfig> = {}): TrainConfig {
  const base = gpu.adapter.isFallback ? { ...DEFAULT_CONFIG, stepsPerSubmit: 8, maxInFlight: 2 } : DEFAULT_CONFIG;
  return validateConfig({ ...base, tuning: tuningFor(gpu.adapter), ...overrides });
}

export function validateConfig(c: TrainConfig): TrainConfig {
  const positiveInt = (name: string, v: number) => {
    if (!Number.isSafeInteger(v) || v < 1) throw new InputError(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('batch size', c.batchSize);
  if (!Number.isSafeInteger(c.epochs) || c.epochs < 0) throw new InputError(`epochs must be a non-negative integer, got ${c.epochs}`);
  if (!(Number.isFinite(c.lr) && c.lr > 0)) throw new InputError(`learning rate must be a finite positive number, got ${c.lr}`);
  if (!(Number.isFinite(c.momentum) && c.momentum >= 0 && c.momentum < 1))
    throw new InputError(`momentum must be in [0, 1), got ${c.momentum}`);
  if (!(Number.isFinite(c.weightDecay) && c.weightDecay >= 0))
    throw new InputError(`weight decay must be a finite non-negative number, got ${c.weightDecay}`);
  if (!Number.isSafeInteger(c.seed) || c.seed < 0 || c.seed > 0xffffffff)
    throw new InputError(`seed must be an integer in [0, 2^32), got ${c.seed}`);
  if (c.maxSteps !== undefined) positiveInt('max steps', c.maxSteps);
  positiveInt('steps per submit', c.stepsPerSubmit);
  positiveInt('max in flight', c.maxInFlight);
  positiveInt('eval batch size', c.evalBatchSize);
  paramLayout(c.layers);
  return c;
}

export interface ChunkReport {
  readonly epoch: number;
  /** global index of the chunk's first step */
  readonly firstStep: number;
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number;
  readonly losses: Float32Array;
  readonly correct: Uint32Array;
  readonly samples: number;
  /** training samples per second since the epoch started, GPU work included */
  readonly samplesPerSecond: number;
  readonly epochElapsedSeconds: number;
  /** host time spent encoding and submitting the chunk's command buffer: where the CPU, not the GPU, sets the pace */
  readonly encodeSeconds: number;
}

export interface EvalResult {
  readonly loss: number;
  readonly accuracy: number;
  readonly correct: number;
  readonly count: number;
  readonly seconds: number;
}

export interface EpochReport {
  readonly epoch: number;
  readonly steps: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  /** time from the epoch's first submit until its last step's results were back */
  readonly seconds: number;
  readonly samplesPerSecond: number;
  readonly test: EvalResult;
  /** the epoch stopped early at `maxSteps` */
  readonly partial: boolean;
}

export interface TrainHooks {
  onChunk?(report: ChunkReport): void;
  /** awaited before training goes on: nothing is in flight then, so it may read or save the state */
  onEpoch?(report: EpochReport): void | Promise<void>;
  /** polled between submits: returning true pauses training after the work in flight (resume by calling train() again) */
  shouldPause?(): boolean;
  /** skip the test-set evaluation after each epoch */
  skipEval?: boolean;
}

/** A checkpoint's content: enough to continue exactly where training stopped. */
export interface TrainerState {
  readonly layers: number[];
  readonly weights: Float32Array;
  readonly velocity: Float32Array;
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly globalStep: number;
  /** state of the shuffle RNG at the start of `epoch` (the epoch's order is drawn from it) */
  readonly epochRngState: Uint32Array;
}

interface InFlight {
  readonly staging: GPUBuffer;
  readonly done: Promise<void>;
  readonly firstStep: number;
  readonly stepInEpoch: number;
  readonly count: number;
  readonly samples: number;
  readonly snapshot: number;
  readonly encodeSeconds: number;
}

/**
 * Trains the MLP on a data set that lives on the GPU. Everything a step touches stays there: the
 * training set (as bytes), the epoch's order, weights, gradients and momentum. The CPU only
 * encodes: `stepsPerSubmit` steps to a command buffer, each step taking its batch offset and
 * loss slot from a StepTable through dynamic offsets, and it reads losses back once per submit,
 * asynchronously, while later submits are already queued.
 */
export class Trainer {
  readonly layout: ParamLayout;
  readonly model: GpuParameters;
  readonly stepsPerEpoch: number;
  epoch = 0;
  stepInEpoch = 0;
  globalStep = 0;
  private rng: Rng;
  private epochRngState: Uint32Array;
  private orderEpoch = -1;
  private readonly train: GpuDataset;
  private readonly test: GpuDataset;
  private readonly order: GPUBuffer;
  private readonly stepTable: StepTable;
  private readonly stats: GPUBuffer;
  private readonly evalTable: StepTable;
  private readonly evalStats: GPUBuffer;
  readonly predicted: GPUBuffer;
  private readonly programs = new Map<number, Promise<TrainProgram>>();
  private readonly evalPrograms = new Map<number, Promise<EvalProgram>>();
  private inferProgram: Promise<InferProgram> | undefined;
  private readonly stagingPool: GPUBuffer[] = [];
  private readonly snapshots: GPUBuffer[];
  private snapshotSteps: number[];
  private nextSnapshot = 0;
  private epochTrainLoss = 0;
  private epochCorrect = 0;
  private epochSamples = 0;
  private epochStart = 0;
  private epochSeconds = 0;
  private running = false;
  private pausedAt: number | undefined;
  private disposed = false;

  private constructor(
    readonly gpu: Gpu,
    readonly config: TrainConfig,
    readonly data: Mnist,
  ) {
    this.layout = paramLayout(config.layers);
    this.stepsPerEpoch = Math.ceil(data.train.count / config.batchSize);
    this.rng = new Rng((config.seed + 0x9e3779b9) >>> 0);
    this.epochRngState = this.rng.state;
    const buffers = gpu.buffers;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.model = new GpuParameters(gpu, this.layout);
    this.train = uploadDataset(gpu, data.train, 'train');
    this.test = uploadDataset(gpu, data.test, 'test');
    this.order = buffers.create('train.order', data.train.count * 4, storage);
    this.stepTable = new StepTable(gpu, 'train.steps', this.stepsPerEpoch, config.batchSize);
    this.stats = buffers.create('train.stats', this.stepsPerEpoch * STEP_STAT_BYTES, storage);
    const evalChunks = Math.ceil(data.test.count / config.evalBatchSize);
    this.evalTable = new StepTable(gpu, 'eval.steps', evalChunks, config.evalBatchSize);
    this.evalStats = buffers.create('eval.stats', evalChunks * STEP_STAT_BYTES, storage);
    this.predicted = buffers.create('eval.predicted', data.test.count * 4, storage);
    this.snapshots = Array.from({ length: config.maxInFlight + 1 }, (_, i) =>
      buffers.create(`params.snapshot${i}`, this.layout.totalFloats * 4, storage),
    );
    this.snapshotSteps = this.snapshots.map(() => -1);
    this.model.setHyper({ lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay });
  }

  /** Uploads the data and builds the programs; `init` is a state dict (seed names), else PyTorch-style init from the seed. */
  static async create(gpu: Gpu, data: Mnist, config: TrainConfig, init?: Map<string, Tensor>, initName = 'init'): Promise<Trainer> {
    validateConfig(config);
    if (data.train.count < 1 || data.test.count < 1) throw new InputError('the data set is empty');
    const trainer = new Trainer(gpu, config, data);
    try {
      const weights = init ? flatFromStateDict(trainer.layout, init, initName) : initParams(trainer.layout, new Rng(config.seed));
      trainer.model.setWeights(weights);
      await Promise.all(trainer.batchSizes().map((rows) => trainer.program(rows)));
      await Promise.all(trainer.evalSizes().map((rows) => trainer.evalProgram(rows)));
      gpu.check();
    } catch (error) {
      trainer.dispose();
      throw error;
    }
    return trainer;
  }

  private batchSizes(): number[] {
    const last = this.data.train.count - (this.stepsPerEpoch - 1) * this.config.batchSize;
    return [...new Set([this.config.batchSize, last])];
  }

  private evalSizes(): number[] {
    const e = this.config.evalBatchSize;
    const chunks = Math.ceil(this.data.test.count / e);
    return [...new Set([Math.min(e, this.data.test.count), this.data.test.count - (chunks - 1) * e])];
  }

  private program(rows: number): Promise<TrainProgram> {
    let p = this.programs.get(rows);
    if (!p) {
      p = TrainProgram.create(this.gpu, this.model, {
        rows,
        dataset: this.train,
        order: this.order,
        steps: this.stepTable,
        stats: this.stats,
        tuning: this.config.tuning,
        fusedUpdate: this.config.fusedUpdate,
        normalization: MNIST_NORMALIZATION,
      });
      this.programs.set(rows, p);
    }
    return p;
  }

  private evalProgram(rows: number): Promise<EvalProgram> {
    let p = this.evalPrograms.get(rows);
    if (!p) {
      p = EvalProgram.create(this.gpu, this.model, {
        rows,
        dataset: this.test,
        steps: this.evalTable,
        stats: this.evalStats,
        predicted: this.predicted,
        tuning: this.config.tuning,
        normalization: MNIST_NORMALIZATION,
      });
      this.evalPrograms.set(rows, p);
    }
    return p;
  }

  /** Dispatches per optimizer step (full batch). */
  async dispatchesPerStep(): Promise<number> {
    return (await this.program(this.config.batchSize)).dispatchCount;
  }

  get done(): boolean {
    return this.epoch >= this.config.epochs || (this.config.maxSteps !== undefined && this.globalStep >= this.config.maxSteps);
  }

  setLearningRate(lr: number): void {
    if (!(Number.isFinite(lr) && lr > 0)) throw new InputError(`learning rate must be a finite positive number, got ${lr}`);
    (this.config as { lr: number }).lr = lr;
    this.model.setHyper({ lr, momentum: this.config.momentum, weightDecay: this.config.weightDecay });
  }

  private prepareEpochOrder(): void {
    if (this.orderEpoch === this.epoch) return;
    const n = this.data.train.count;
    let order: Uint32Array;
    this.rng = new Rng(this.epochRngState);
    if (this.config.shuffle) {
      order = this.rng.permutation(n);
    } else {
      order = new Uint32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    // Between submits: the queue runs this write after every command buffer already submitted.
    this.gpu.write(this.order, order);
    this.orderEpoch = this.epoch;
  }

  private acquireStaging(): GPUBuffer {
    return (
      this.stagingPool.pop() ??
      this.gpu.buffers.create(
        'train.stats.readback',
        this.config.stepsPerSubmit * STEP_STAT_BYTES,
        GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      )
    );
  }

  /**
   * Trains until `epochs` (or `maxSteps`) is reached, or until `hooks.shouldPause()` says so.
   * Resolves with the reports of the epochs it finished. Throws DivergenceError on a non-finite
   * loss (the weights are then rolled back to the last verified-good ones), GpuError and
   * DeviceLostError as they happen.
   */
  async run(hooks: TrainHooks = {}): Promise<EpochReport[]> {
    if (this.running) throw new Error('the trainer is already running');
    if (this.disposed) throw new Error('the trainer was disposed');
    this.running = true;
    // Time spent paused between run() calls is not training time.
    if (this.pausedAt !== undefined) this.epochStart += performance.now() - this.pausedAt;
    this.pausedAt = undefined;
    const reports: EpochReport[] = [];
    const inFlight: InFlight[] = [];
    let failure: unknown;
    try {
      while (!this.done && !hooks.shouldPause?.()) {
        if (this.stepInEpoch === 0 && inFlight.length === 0) this.startEpoch();
        this.prepareEpochOrder();
        const remainingInEpoch = this.stepsPerEpoch - this.stepInEpoch;
        const remainingSteps = this.config.maxSteps === undefined ? Infinity : this.config.maxSteps - this.globalStep;
        const count = Math.min(this.config.stepsPerSubmit, remainingInEpoch, remainingSteps);
        inFlight.push(await this.submitChunk(count));
        const epochEnds = this.stepInEpoch === this.stepsPerEpoch;
        const stops = this.done || epochEnds;
        while (inFlight.length >= this.config.maxInFlight || (stops && inFlight.length > 0)) {
          await this.finishChunk(inFlight.shift()!, hooks);
        }
        if (epochEnds || this.done) {
          this.epochSeconds = (performance.now() - this.epochStart) / 1000;
          const report = await this.endEpoch(hooks, epochEnds);
          reports.push(report);
          await hooks.onEpoch?.(report);
        }
      }
    } catch (error) {
      failure = error;
    } finally {
      // Whatever happened, collect what is in flight so no buffer stays mapped or pending.
      for (const chunk of inFlight.splice(0)) {
        try {
          await chunk.done;
          if (failure === undefined) this.finishChunkSync(chunk, hooks);
          else this.releaseStaging(chunk.staging);
        } catch (error) {
          failure ??= error;
        }
      }
      this.running = false;
      if (this.stepInEpoch > 0) this.pausedAt = performance.now();
    }
    if (failure !== undefined) {
      if (failure instanceof DivergenceError) await this.rollBack(failure.step);
      throw failure;
    }
    return reports;
  }

  private startEpoch(): void {
    this.epochTrainLoss = 0;
    this.epochCorrect = 0;
    this.epochSamples = 0;
    this.epochStart = performance.now();
  }

  private async submitChunk(count: number): Promise<InFlight> {
    const firstStep = this.globalStep;
    const stepInEpoch = this.stepInEpoch;
    const device = this.gpu.device;
    const encodeStart = performance.now();
    const encoder = device.createCommandEncoder({ label: `train.steps${firstStep}` });
    // Keep the weights as they were before this chunk, in a ring, so a divergence found at
    // readback can roll back to weights that produced only finite losses.
    const snapshot = this.nextSnapshot;
    this.nextSnapshot = (this.nextSnapshot + 1) % this.snapshots.length;
    encoder.copyBufferToBuffer(this.model.params[this.model.current], 0, this.snapshots[snapshot]!, 0, this.layout.totalFloats * 4);
    this.snapshotSteps[snapshot] = firstStep;
    const pass = encoder.beginComputePass({ label: `train.steps${firstStep}` });
    let samples = 0;
    for (let i = 0; i < count; i++) {
      const slot = stepInEpoch + i;
      const rows = Math.min(this.config.batchSize, this.data.train.count - slot * this.config.batchSize);
      samples += rows;
      (await this.program(rows)).encode(pass, slot);
    }
    pass.end();
    const staging = this.acquireStaging();
    encoder.copyBufferToBuffer(this.stats, stepInEpoch * STEP_STAT_BYTES, staging, 0, count * STEP_STAT_BYTES);
    device.queue.submit([encoder.finish()]);
    const encodeSeconds = (performance.now() - encodeStart) / 1000;
    this.globalStep += count;
    this.stepInEpoch += count;
    const done = this.gpu.mapRead(staging);
    // A rejection is handled where the chunk is awaited; this only keeps it from being reported as unhandled meanwhile.
    done.catch(() => {});
    return { staging, done, firstStep, stepInEpoch, count, samples, snapshot, encodeSeconds };
  }

  private finishChunk(chunk: InFlight, hooks: TrainHooks): Promise<void> {
    return chunk.done.then(() => this.finishChunkSync(chunk, hooks));
  }

  private finishChunkSync(chunk: InFlight, hooks: TrainHooks): void {
    const bytes = chunk.staging.getMappedRange(0, chunk.count * STEP_STAT_BYTES).slice(0);
    this.releaseStaging(chunk.staging);
    const view = new DataView(bytes);
    const losses = new Float32Array(chunk.count);
    const correct = new Uint32Array(chunk.count);
    for (let i = 0; i < chunk.count; i++) {
      losses[i] = view.getFloat32(i * STEP_STAT_BYTES, true);
      correct[i] = view.getUint32(i * STEP_STAT_BYTES + 4, true);
      if (!Number.isFinite(losses[i]!)) {
        const step = chunk.firstStep + i;
        throw new DivergenceError(`training diverged: the loss of step ${step + 1} is ${losses[i]} (try a smaller learning rate)`, step);
      }
      const rows = Math.min(this.config.batchSize, this.data.train.count - (chunk.stepInEpoch + i) * this.config.batchSize);
      this.epochTrainLoss += losses[i]! * rows;
      this.epochCorrect += correct[i]!;
    }
    this.epochSamples += chunk.samples;
    const elapsed = (performance.now() - this.epochStart) / 1000;
    hooks.onChunk?.({
      epoch: this.epoch,
      firstStep: chunk.firstStep,
      stepInEpoch: chunk.stepInEpoch,
      stepsPerEpoch: this.stepsPerEpoch,
      losses,
      correct,
      samples: chunk.samples,
      samplesPerSecond: this.epochSamples / Math.max(elapsed, 1e-9),
      epochElapsedSeconds: elapsed,
      encodeSeconds: chunk.encodeSeconds,
    });
  }

  private releaseStaging(staging: GPUBuffer): void {
    if (staging.mapState === 'mapped') staging.unmap();
    if (staging.mapState === 'unmapped') this.stagingPool.push(staging);
    else this.gpu.buffers.destroy(staging);
  }

  private async endEpoch(hooks: TrainHooks, complete: boolean): Promise<EpochReport> {
    const samples = this.epochSamples;
    const report = {
      epoch: this.epoch,
      steps: this.stepInEpoch,
      trainLoss: samples ? this.epochTrainLoss / samples : NaN,
      trainAccuracy: samples ? this.epochCorrect / samples : NaN,
      seconds: this.epochSeconds,
      samplesPerSecond: samples / Math.max(this.epochSeconds, 1e-9),
      partial: !complete,
      test: hooks.skipEval ? { loss: NaN, accuracy: NaN, correct: 0, count: 0, seconds: 0 } : await this.evaluate(),
    };
    if (complete) {
      this.epoch++;
      this.stepInEpoch = 0;
      this.epochRngState = this.rng.state;
    }
    return report;
  }

  /** Loss and accuracy on the whole test set, computed on the GPU; only the per-chunk sums come back. */
  async evaluate(): Promise<EvalResult> {
    const start = performance.now();
    const e = this.config.evalBatchSize;
    const count = this.data.test.count;
    const chunks = Math.ceil(count / e);
    const encoder = this.gpu.device.createCommandEncoder({ label: 'evaluate' });
    const pass = encoder.beginComputePass({ label: 'evaluate' });
    for (let c = 0; c < chunks; c++) (await this.evalProgram(Math.min(e, count - c * e))).encode(pass, c);
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    const view = new DataView(await this.gpu.read(this.evalStats, 0, chunks * STEP_STAT_BYTES));
    let loss = 0;
    let correct = 0;
    for (let c = 0; c < chunks; c++) {
      loss += view.getFloat32(c * STEP_STAT_BYTES, true) * Math.min(e, count - c * e);
      correct += view.getUint32(c * STEP_STAT_BYTES + 4, true);
    }
    return { loss: loss / count, accuracy: correct / count, correct, count, seconds: (performance.now() - start) / 1000 };
  }

  /** The test set's predicted classes from the last evaluate(). */
  async predictions(count = this.data.test.count): Promise<Uint32Array> {
    return new Uint32Array(await this.gpu.read(this.predicted, 0, Math.min(count, this.data.test.count) * 4));
  }

  /** Class probabilities for one or more inputs given as pixel intensities in [0, 1] (28×28 each for MNIST). */
  async predict(pixels: Float32Array): Promise<Float32Array> {
    const features = this.layout.layers[0]!;
    if (pixels.length !== features) throw new InputError(`predict takes ${features} pixels, got ${pixels.length}`);
    this.inferProgram ??= InferProgram.create(this.gpu, this.model, 1, this.config.tuning);
    const program = await this.inferProgram;
    const x = new Float32Array(features);
    for (let i = 0; i < features; i++) x[i] = (pixels[i]! - MNIST_NORMALIZATION.mean) / MNIST_NORMALIZATION.std;
    this.gpu.write(program.input, x);
    const encoder = this.gpu.device.createCommandEncoder({ label: 'predict' });
    const pass = encoder.beginComputePass();
    program.encode(pass, 0);
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    return new Float32Array(await this.gpu.read(program.probs));
  }

  /** The current weights as a state dict with the seed program's names and shapes. */
  async stateDict(): Promise<Map<string, Tensor>> {
    return stateDictFromFlat(this.layout, await this.model.readWeights());
  }

  async loadStateDict(tensors: Map<string, Tensor>, name: string): Promise<void> {
    this.model.setWeights(flatFromStateDict(this.layout, tensors, name));
  }

  async saveState(): Promise<TrainerState> {
    return {
      layers: [...this.layout.layers],
      weights: await this.model.readWeights(),
      velocity: await this.model.readVelocity(),
      epoch: this.epoch,
      stepInEpoch: this.stepInEpoch,
      globalStep: this.globalStep,
      epochRngState: Uint32Array.from(this.epochRngState),
    };
  }

  restoreState(s: TrainerState): void {
    if (s.layers.join(',') !== this.layout.layers.join(',')) {
      throw new InputError(`the checkpoint is for layers ${s.layers.join(',')}, not ${this.layout.layers.join(',')}`);
    }
    if (s.stepInEpoch > this.stepsPerEpoch) throw new InputError('the checkpoint does not fit this data set and batch size');
    this.model.setWeights(s.weights, s.velocity);
    this.epoch = s.epoch;
    this.stepInEpoch = s.stepInEpoch;
    this.globalStep = s.globalStep;
    this.epochRngState = Uint32Array.from(s.epochRngState);
    this.orderEpoch = -1;
    if (this.stepInEpoch > 0) this.startEpoch();
  }

  /** After a divergence: put back the newest snapshot taken before `badStep`, so the weights can be saved. */
  private async rollBack(badStep: number): Promise<void> {
    let best = -1;
    for (let i = 0; i < this.snapshots.length; i++) {
      const s = this.snapshotSteps[i]!;
      if (s >= 0 && s <= badStep && (best < 0 || s > this.snapshotSteps[best]!)) best = i;
    }
    if (best < 0) return;
    const weights = new Float32Array(await this.gpu.read(this.snapshots[best]!));
    this.model.setWeights(weights);
    this.lastGoodStep = this.snapshotSteps[best]!;
  }

  /** After a DivergenceError: the global step count the restored weights correspond to. */
  lastGoodStep: number | undefined;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const programs = [...this.programs.values(), ...this.evalPrograms.values(), ...(this.inferProgram ? [this.inferProgram] : [])];
    for (const p of programs)
      p.then(
        (program) => program.destroy(),
        () => {},
      );
    this.model.destroy();
    destroyDataset(this.gpu, this.train);
    destroyDataset(this.gpu, this.test);
    const b = this.gpu.buffers;
    for (const buffer of [
      this.order,
      this.stepTable.buffer,
      this.stats,
      this.evalTable.buffer,
      this.evalStats,
      this.predicted,
      ...this.snapshots,
      ...this.stagingPool,
    ]) {
      b.destroy(buffer);
    }
    this.stagingPool.length = 0;
  }
}
