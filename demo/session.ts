/**
 * One run in the worker: a Trainer with the settings it was made from, its curves (every step's
 * loss, each epoch's test result), the state kept at the last epoch end (what a device-loss
 * restart continues from), and the fit loop, which the page pauses and which a profile request
 * briefly interrupts (pause and resume are exact, so profiling changes no result).
 */
import {
  adam,
  adamw,
  mlp,
  sgd,
  Trainer,
  type Device,
  type LrScheduleOptions,
  type MnistLike,
  type Optimizer,
  type StepProfile,
  type TrainerState,
} from '../src/index.ts';
import type { EpochPoint, RunInfo, RunSettings, StopReason } from './protocol.ts';

/** The trainer's schedule for these settings (none for a constant rate without warm-up). */
function scheduleOf(s: RunSettings): LrScheduleOptions | undefined {
  const sc = s.schedule;
  if (!sc || (sc.kind === 'constant' && !sc.warmupSteps)) return undefined;
  const warmupSteps = sc.warmupSteps;
  if (sc.kind === 'step') return { kind: 'step', stepSize: sc.stepSize, gamma: sc.gamma, warmupSteps };
  if (sc.kind === 'cosine') return { kind: 'cosine', tMax: s.epochs, warmupSteps };
  return { kind: 'constant', warmupSteps };
}

function makeOptimizer(o: RunSettings['optimizer']): Optimizer {
  if (o.kind === 'sgd') return sgd({ lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay });
  return (o.kind === 'adam' ? adam : adamw)({ lr: o.lr, betas: [o.beta1, o.beta2], weightDecay: o.weightDecay });
}

export interface SessionHooks {
  onChunk(firstStep: number, losses: Float32Array, samples: number, epoch: number): void;
  /** nothing is in flight: the state may be read (checkpoint, predictions) */
  onEpoch(point: EpochPoint): Promise<void>;
}

export class Session {
  losses = new Float32Array(1024);
  lossCount = 0;
  tests: EpochPoint[] = [];
  completed = false;
  /** the trainer's state at the last epoch end (or when made): what a restart continues from */
  kept: TrainerState | undefined;
  private stopper: AbortController | undefined;
  private userPaused = false;
  private profiles: { resolve(p: StepProfile): void; reject(e: unknown): void }[] = [];
  running: Promise<unknown> | undefined;

  private constructor(
    readonly id: string,
    public settings: RunSettings,
    public trainer: Trainer,
  ) {}

  static async create(gpu: Device, data: MnistLike, settings: RunSettings, init?: { name: string; bytes: Uint8Array }, id?: string) {
    const schedule = scheduleOf(settings);
    const trainer = await Trainer.create(gpu, {
      ...(schedule ? { schedule } : {}),
      model: mlp(settings.layers),
      optimizer: makeOptimizer(settings.optimizer),
      train: data.train,
      test: data.test,
      batchSize: settings.batchSize,
      seed: settings.seed,
      ...(init ? { init: init.bytes, initName: init.name } : {}),
    });
    const session = new Session(id ?? `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, settings, trainer);
    session.kept = await trainer.saveState();
    return session;
  }

  get history() {
    return { losses: this.losses.slice(0, this.lossCount), tests: [...this.tests] };
  }

  info(): RunInfo {
    const t = this.trainer;
    return {
      id: this.id,
      settings: this.settings,
      stepsPerEpoch: t.stepsPerEpoch,
      epoch: t.epoch,
      stepInEpoch: t.stepInEpoch,
      globalStep: t.globalStep,
      completed: this.completed,
      history: this.history,
    };
  }

  /** Curves from a saved run (continuing it) or cut back to the kept state (after a restart). */
  setHistory(losses: Float32Array, tests: readonly EpochPoint[]): void {
    this.lossCount = 0;
    this.push(0, losses);
    this.tests = [...tests];
  }

  truncate(step: number): void {
    this.lossCount = Math.min(this.lossCount, step);
    this.tests = this.tests.filter((t) => t.step <= step);
  }

  private push(firstStep: number, losses: Float32Array): void {
    this.lossCount = Math.min(this.lossCount, firstStep);
    const need = firstStep + losses.length;
    if (need > this.losses.length) {
      const grown = new Float32Array(Math.max(need, this.losses.length * 2));
      grown.set(this.losses.subarray(0, this.lossCount));
      this.losses = grown;
    }
    this.losses.set(losses, firstStep);
    this.lossCount = need;
  }

  setLearningRate(lr: number): void {
    this.trainer.setLearningRate(lr);
    // The saved settings say the rate the run has now: a continued run is made with it.
    this.settings = { ...this.settings, optimizer: { ...this.settings.optimizer, lr } };
  }

  pause(): void {
    this.userPaused = true;
    this.stopper?.abort();
  }

  /** Profiles one step; while training runs, at the next pause point (the loop resumes after it). */
  profile(): Promise<StepProfile> {
    if (!this.stopper) return this.trainer.profileStep();
    return new Promise((resolve, reject) => {
      this.profiles.push({ resolve, reject });
      this.stopper?.abort();
    });
  }

  private async runProfiles(): Promise<void> {
    const waiting = this.profiles.splice(0);
    if (!waiting.length) return;
    try {
      const p = await this.trainer.profileStep();
      for (const w of waiting) w.resolve(p);
    } catch (error) {
      for (const w of waiting) w.reject(error);
    }
  }

  /** Trains to `epochs` epochs unless paused; throws what fit() throws. */
  async fit(epochs: number, hooks: SessionHooks): Promise<StopReason> {
    this.userPaused = false;
    const run = async (): Promise<StopReason> => {
      try {
        for (;;) {
          this.stopper = new AbortController();
          const result = await this.trainer.fit({
            epochs,
            signal: this.stopper.signal,
            onChunk: (r) => {
              this.push(r.firstStep, r.losses);
              hooks.onChunk(r.firstStep, r.losses, r.samples, r.epoch);
            },
            onEpoch: async (e) => {
              const point = { epoch: e.epoch + 1, step: this.trainer.globalStep, loss: e.test!.loss, accuracy: e.test!.accuracy };
              this.tests.push(point);
              this.kept = await this.trainer.saveState();
              await hooks.onEpoch(point);
            },
          });
          this.stopper = undefined;
          await this.runProfiles();
          if (result.stopped === 'completed') {
            this.completed = true;
            return 'completed';
          }
          if (this.userPaused) return 'paused';
        }
      } finally {
        this.stopper = undefined;
        for (const w of this.profiles.splice(0)) w.reject(new Error('training stopped before the profile'));
      }
    };
    const running = run();
    this.running = running.catch(() => {});
    return running;
  }

  async dispose(): Promise<void> {
    this.pause();
    await this.running;
    this.trainer.dispose();
  }
}
