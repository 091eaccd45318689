/**
 * The public trainer: a model, an optimizer and data sets on one device, trained by `fit()`.
 * Everything a step touches stays on the GPU — the training set, the epoch's order, weights,
 * gradients and optimizer state. The CPU only encodes (`stepsPerSubmit` steps to a command buffer,
 * each taking its batch offset and loss slot from a StepTable through dynamic offsets) and reads
 * each command buffer's losses back asynchronously while later ones are already queued.
 */
import { InputError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/device.ts';
import { StepStat } from '../../kernels/records.ts';
import type { Dataset } from '../data/dataset.ts';
import { destroyDataset, uploadDataset, type GpuDataset } from '../data/gpu-dataset.ts';
import { encodeCheckpoint, decodeCheckpoint } from '../io/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors, type Tensor } from '../io/safetensors.ts';
import { flatFromStateDict, initParams, paramLayout, stateDictFromFlat, type ParamLayout } from '../layout.ts';
import { GpuParameters, StepTable } from '../parameters.ts';
import { TrainProgram } from '../programs/train.ts';
import { checkLearningRate, hyperValues, stepValues } from '../optimizers.ts';
import { scheduledLr } from '../schedules.ts';
import { Rng } from '../rng.ts';
import { checkFits, configFrom, type TrainConfig, type TrainerOptions } from './config.ts';
import { checkLimits } from './limits.ts';
import { Evaluator, Predictor, type EvalResult } from './evaluator.ts';
import { SnapshotRing } from './snapshots.ts';
import type { CheckpointConfig, TrainerState } from './state.ts';
import { SubmitRing, type Chunk } from './submit-ring.ts';
import { fitLoop, type FitOptions, type FitResult } from './fit.ts';
import { profileStep, type StepProfile } from './profile.ts';

export class Trainer {
  readonly layout: ParamLayout;
  readonly stepsPerEpoch: number;
  /** epochs completed */
  epoch = 0;
  stepInEpoch = 0;
  globalStep = 0;
  /** after a DivergenceError: the global step count the rolled-back weights correspond to */
  lastGoodStep: number | undefined;
  /** @internal */ readonly model: GpuParameters;
  /** @internal */ readonly ring: SubmitRing;
  /** @internal */ readonly snapshots: SnapshotRing;
  /** @internal */ rng: Rng;
  /** @internal */ epochRngState: Uint32Array;
  /** @internal */ running = false;
  /** @internal fit() is running but waiting for onEpoch, with nothing in flight */
  atRest = false;
  /** @internal */ pausedAt: number | undefined;
  /** @internal */ epochClock = { start: 0, loss: 0, correct: 0, samples: 0 };
  private orderEpoch = -1;
  /** the epoch whose optimizer steps (lr, bias corrections) the step table holds; -1 when they must be rewritten */
  private stepsEpoch = -1;
  private readonly trainData: GpuDataset;
  private readonly order: GPUBuffer;
  private readonly stepTable: StepTable;
  /** @internal */ readonly stats: GPUBuffer;
  private readonly programs = new Map<number, Promise<TrainProgram>>();
  private readonly testEvaluator: Evaluator | undefined;
  private readonly predictor: Predictor;
  private disposed = false;

  private constructor(
    readonly device: Gpu,
    readonly config: TrainConfig,
    readonly train: Dataset,
    readonly test: Dataset | undefined,
  ) {
    this.layout = paramLayout(config.layers);
    this.stepsPerEpoch = Math.ceil(train.count / config.batchSize);
    this.rng = new Rng((config.seed + 0x9e3779b9) >>> 0);
    this.epochRngState = this.rng.state;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffers = device.buffers;
    this.model = new GpuParameters(device, this.layout, config.optimizer.kind);
    this.trainData = uploadDataset(device, train, 'train');
    this.order = buffers.create('train.order', train.count * 4, storage);
    this.stepTable = new StepTable(device, 'train.steps', this.stepsPerEpoch, config.batchSize);
    this.stats = buffers.create('train.stats', this.stepsPerEpoch * StepStat.size, storage);
    this.ring = new SubmitRing(device, config.stepsPerSubmit, config.pacedReadback);
    this.snapshots = new SnapshotRing(device, this.model, config.maxInFlight + 1);
    this.testEvaluator = test
      ? new Evaluator(device, this.model, test, Math.min(config.evalBatchSize, test.count), config.tuning, 'test')
      : undefined;
    this.predictor = new Predictor(device, this.model, config.tuning, train.normalization);
    this.applyOptimizer();
  }

  /**
   * Uploads the data, sets the initial weights (`init`, else PyTorch's nn.Linear init drawn from
   * `seed`) and compiles every program training will use. Bad options are InputErrors.
   */
  static async create(device: Gpu, options: TrainerOptions): Promise<Trainer> {
    const config = configFrom(device, options);
    if (!options.train) throw new InputError('Trainer.create needs a training set (train)');
    checkFits(config.layers, options.train);
    if (options.test) checkFits(config.layers, options.test);
    checkLimits(device.device.limits, { ...config, train: options.train, test: options.test });
    const trainer = new Trainer(device, config, options.train, options.test);
    try {
      const layout = trainer.layout;
      const name = options.initName ?? 'init';
      const init = options.init instanceof Uint8Array ? decodeSafetensors(options.init, name).tensors : options.init;
      trainer.model.setWeights(init ? flatFromStateDict(layout, new Map(init), name) : initParams(layout, new Rng(config.seed)));
      await Promise.all(trainer.batchSizes().map((rows) => trainer.program(rows)));
      await trainer.testEvaluator?.prepare();
      device.check();
    } catch (error) {
      trainer.dispose();
      throw error;
    }
    return trainer;
  }

  private batchSizes(): number[] {
    const last = this.train.count - (this.stepsPerEpoch - 1) * this.config.batchSize;
    return [...new Set([this.config.batchSize, last])];
  }

  /** @internal rows of the batch at `slot` of an epoch */
  rowsAt(slot: number): number {
    return Math.min(this.config.batchSize, this.train.count - slot * this.config.batchSize);
  }

  /** @internal */
  program(rows: number): Promise<TrainProgram> {
    let p = this.programs.get(rows);
    if (!p) {
      p = TrainProgram.create(this.device, this.model, {
        rows,
        dataset: this.trainData,
        order: this.order,
        steps: this.stepTable,
        stats: this.stats,
        tuning: this.config.tuning,
        fusedUpdate: this.config.fusedUpdate,
      });
      this.programs.set(rows, p);
    }
    return p;
  }

  /** Dispatches per optimizer step (full batch). */
  async dispatchesPerStep(): Promise<number> {
    return (await this.program(this.config.batchSize)).dispatchCount;
  }

  private applyOptimizer(): void {
    this.model.setHyper(hyperValues(this.config.optimizer, this.layout.totalFloats));
    this.stepsEpoch = -1;
  }

  /**
   * The lr the schedule gives global step `step` (from 0) of epoch `epoch`, from the optimizer's
   * (base) lr: what the step table holds, rounded to float32, for that step.
   */
  learningRateAt(epoch: number, step: number): number {
    return scheduledLr(this.config.optimizer.lr, this.config.schedule, epoch, step);
  }

  /**
   * Writes the optimizer's values (scheduled lr, Adam's bias corrections, step count) of this
   * epoch's remaining steps into the step table, between submits, whenever the epoch or the base lr
   * changed: the queue runs the write after every command buffer already submitted.
   */
  private prepareOptimizerSteps(): void {
    if (this.stepsEpoch === this.epoch) return;
    const first = this.stepInEpoch;
    const base = this.epoch * this.stepsPerEpoch;
    const steps = Array.from({ length: this.stepsPerEpoch - first }, (_, i) => {
      const step = base + first + i;
      return stepValues(this.config.optimizer, this.learningRateAt(this.epoch, step), step + 1);
    });
    this.stepTable.setOptimizerSteps(this.device, first, steps);
    this.stepsEpoch = this.epoch;
  }

  /** Changes the (base) learning rate from the next submitted step on (between submits: steps in flight keep theirs); the schedule scales it as before. */
  setLearningRate(lr: number): void {
    (this.config as { optimizer: TrainConfig['optimizer'] }).optimizer = { ...this.config.optimizer, lr: checkLearningRate(lr) };
    this.applyOptimizer();
  }

  /** @internal after an epoch's last step: the next epoch's order is drawn from where this one's left the RNG */
  completeEpoch(): void {
    this.epoch++;
    this.stepInEpoch = 0;
    this.epochRngState = this.rng.state;
  }

  /** @internal writes the epoch's sample order once, between submits */
  prepareEpochOrder(): void {
    if (this.orderEpoch === this.epoch) return;
    const n = this.train.count;
    this.rng = new Rng(this.epochRngState);
    const order = this.config.shuffle ? this.rng.permutation(n) : Uint32Array.from({ length: n }, (_, i) => i);
    // Between submits: the queue runs this write after every command buffer already submitted.
    this.device.write(this.order, order);
    this.orderEpoch = this.epoch;
  }

  /** @internal encodes and submits `count` steps from the current position */
  async submit(count: number): Promise<Chunk> {
    const encodeStart = performance.now();
    this.prepareOptimizerSteps();
    const firstStep = this.globalStep;
    const stepInEpoch = this.stepInEpoch;
    const encoder = this.device.device.createCommandEncoder({ label: `train.steps${firstStep}` });
    this.snapshots.take(encoder, firstStep);
    const pass = encoder.beginComputePass({ label: `train.steps${firstStep}` });
    let samples = 0;
    for (let i = 0; i < count; i++) {
      const rows = this.rowsAt(stepInEpoch + i);
      samples += rows;
      (await this.program(rows)).encode(pass, stepInEpoch + i);
    }
    pass.end();
    this.globalStep += count;
    this.stepInEpoch += count;
    return this.ring.submit(encoder, this.stats, { firstStep, epoch: this.epoch, stepInEpoch, count, samples }, encodeStart);
  }

  /** @internal after a divergence: back to the last weights that produced only finite losses */
  async rollBack(badStep: number): Promise<void> {
    const step = await this.snapshots.rollBack(badStep);
    if (step !== undefined) this.lastGoodStep = step;
  }

  /**
   * Trains until `epochs` epochs are complete in all (or `maxSteps` steps), or until `signal` is
   * aborted, which pauses after the work in flight: a later fit() resumes exactly where it stopped.
   * Throws DivergenceError on a non-finite loss (the weights rolled back to the last good ones),
   * GpuError and DeviceLostError as they happen.
   */
  fit(options: FitOptions = {}): Promise<FitResult> {
    if (this.disposed) return Promise.reject(new Error('the trainer was disposed'));
    return fitLoop(this, options);
  }

  /**
   * Runs one training step on the current batch with its dispatches timed one by one (GPU
   * timestamps where the device has `timestamp-query`, else only the step's wall-clock time),
   * then restores the weights and optimizer state: training goes on exactly as without it.
   * Between fit() calls, or from onEpoch.
   */
  async profileStep(): Promise<StepProfile> {
    if (this.disposed) throw new Error('the trainer was disposed');
    if (this.running && !this.atRest) throw new Error('profileStep() while fit() is running: pause first, or call it from onEpoch');
    this.prepareEpochOrder();
    const slot = this.stepInEpoch % this.stepsPerEpoch;
    return profileStep(this.device, this.model, await this.program(this.rowsAt(slot)), slot);
  }

  /** Loss and accuracy on the test set (or another data set), computed on the GPU. */
  async evaluate(dataset?: Dataset): Promise<EvalResult> {
    if (!dataset || dataset === this.test) {
      if (!this.testEvaluator) throw new InputError('evaluate() needs a data set: the trainer was created without a test set');
      return this.testEvaluator.evaluate();
    }
    checkFits(this.config.layers, dataset);
    const evaluator = new Evaluator(
      this.device,
      this.model,
      dataset,
      Math.min(this.config.evalBatchSize, dataset.count),
      this.config.tuning,
      'eval',
    );
    try {
      return await evaluator.evaluate();
    } finally {
      evaluator.destroy();
    }
  }

  /** The test set's predicted classes from the last evaluate() (fit() evaluates after every epoch). */
  async testPredictions(): Promise<Uint32Array> {
    if (!this.testEvaluator) throw new InputError('the trainer was created without a test set');
    return this.testEvaluator.predictions();
  }

  /** Class probabilities (rows × classes) for any number of rows of raw features (u8 or f32, normalized as the training set). */
  predict(rows: Uint8Array | Float32Array): Promise<Float32Array> {
    return this.predictor.predict(rows);
  }

  /** The current weights as a state dict with PyTorch's names and shapes (l1.weight [out, in], l1.bias, …). */
  async stateDict(): Promise<Map<string, Tensor>> {
    return stateDictFromFlat(this.layout, await this.model.readWeights());
  }

  /** The weights as safetensors bytes that `model.load_state_dict(safetensors.torch.load(...))` takes in PyTorch. */
  async saveSafetensors(metadata: Record<string, string> = {}): Promise<Uint8Array> {
    return encodeSafetensors(await this.stateDict(), { format: 'pt', layers: this.layout.layers.join(','), ...metadata });
  }

  /** Replaces the weights (and zeroes the optimizer state) from safetensors bytes or a state dict. */
  async loadSafetensors(weights: Uint8Array | ReadonlyMap<string, Tensor>, name = 'weights'): Promise<void> {
    const tensors = weights instanceof Uint8Array ? decodeSafetensors(weights, name).tensors : weights;
    this.model.setWeights(flatFromStateDict(this.layout, new Map(tensors), name));
  }

  /** The settings a checkpoint records, which a resumed run must share. */
  get checkpointConfig(): CheckpointConfig {
    const c = this.config;
    return {
      layers: [...c.layers],
      optimizer: c.optimizer,
      schedule: c.schedule,
      batchSize: c.batchSize,
      seed: c.seed,
      shuffle: c.shuffle,
    };
  }

  async saveState(): Promise<TrainerState> {
    if (this.running && !this.atRest) throw new Error('saveState() while fit() is running: pause first (abort its signal)');
    return {
      layers: [...this.layout.layers],
      weights: await this.model.readWeights(),
      optimizerState: await this.model.readState(),
      epoch: this.epoch,
      stepInEpoch: this.stepInEpoch,
      globalStep: this.globalStep,
      epochRngState: Uint32Array.from(this.epochRngState),
    };
  }

  restoreState(s: TrainerState): void {
    if (this.running) throw new Error('restoreState() while fit() is running');
    if (s.layers.join(',') !== this.layout.layers.join(',')) {
      throw new InputError(`the checkpoint is for layers ${s.layers.join(',')}, not ${this.layout.layers.join(',')}`);
    }
    if (s.stepInEpoch > this.stepsPerEpoch) throw new InputError('the checkpoint does not fit this data set and batch size');
    if (s.optimizerState.length !== this.model.stateTensors) {
      throw new InputError(
        `the checkpoint has ${s.optimizerState.length} optimizer state tensors, ${this.config.optimizer.kind} keeps ${this.model.stateTensors}`,
      );
    }
    this.model.setWeights(s.weights, s.optimizerState);
    this.epoch = s.epoch;
    this.stepInEpoch = s.stepInEpoch;
    this.globalStep = s.globalStep;
    this.epochRngState = Uint32Array.from(s.epochRngState);
    this.orderEpoch = -1;
    this.stepsEpoch = -1;
    this.pausedAt = undefined;
    if (this.stepInEpoch > 0) this.epochClock = { start: performance.now(), loss: 0, correct: 0, samples: 0 };
  }

  /** A checkpoint as bytes (one safetensors file): weights, optimizer state, position, RNG state and settings. */
  async checkpoint(): Promise<Uint8Array> {
    return encodeCheckpoint(await this.saveState(), this.checkpointConfig);
  }

  /** Continues from checkpoint bytes written by checkpoint(); the settings must match this trainer's. */
  async restore(bytes: Uint8Array, name = 'checkpoint'): Promise<void> {
    const { state, config } = decodeCheckpoint(bytes, name);
    const mine = this.checkpointConfig;
    for (const key of Object.keys(mine) as (keyof CheckpointConfig)[]) {
      if (JSON.stringify(config[key]) !== JSON.stringify(mine[key])) {
        throw new InputError(
          `${name} was written with ${key} ${JSON.stringify(config[key])}, this trainer has ${JSON.stringify(mine[key])}`,
        );
      }
    }
    this.restoreState(state);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.programs.values())
      p.then(
        (program) => program.destroy(),
        () => {},
      );
    this.testEvaluator?.destroy();
    this.predictor.destroy();
    this.snapshots.destroy();
    this.ring.destroy();
    this.model.destroy();
    destroyDataset(this.device, this.trainData);
    for (const b of [this.order, this.stepTable.buffer, this.stats]) this.device.buffers.destroy(b);
  }
}
