/**
 * The demo page: load MNIST, train the MLP on the GPU while the page shows it learn, then try it
 * on a drawing. One App object owns the state; every button goes through it, and
 * `updateControls()` derives what is enabled from the phase alone.
 *
 * Training runs in `Trainer.fit()`, which awaits the GPU between submits, so the page stays
 * responsive; hooks only store numbers, and the chart and the stats are drawn once per frame.
 *
 * Test-only URL knobs: `?subset=N&test=M` train and test on the first N / M images;
 * `?debug` exposes `window.__demo` (device loss, buffer count) for test/demo.test.ts.
 */
import './style.css';
import {
  decodeSafetensors,
  describeAdapter,
  describeError,
  DeviceLostError,
  DivergenceError,
  InputError,
  layersOfStateDict,
  mlp,
  SEED_LAYERS,
  sgd,
  Trainer,
  type Device as Gpu,
  type FitOptions,
  type MnistLike as Mnist,
  type Tensor,
  type TrainerOptions,
  type TrainerState,
} from '../src/index.ts';
import { LossChart } from './chart.ts';
import { DataNotOnServer, DroppedFiles, fetchMnist, takeSubset } from './data.ts';
import { acquireGpu, webGpuHelp } from './device.ts';
import { MNIST_SIDE, preprocessDigit } from './draw.ts';
import { DigitGrid, type GridMode } from './grid.ts';
import { DrawingPad } from './pad.ts';
import {
  AccuracyList,
  byId,
  formatCount,
  formatDuration,
  formatPercent,
  MessageBar,
  ProbabilityBars,
  setProgress,
  setText,
  type Tone,
} from './ui.ts';

/** What the settings panel says: the trainer's options (without the data) and how many epochs to train. */
interface RunSettings {
  readonly epochs: number;
  readonly options: Omit<TrainerOptions, 'train' | 'test' | 'init'>;
}

function createTrainer(gpu: Gpu, data: Mnist, s: RunSettings, init?: Map<string, Tensor>, initName?: string): Promise<Trainer> {
  return Trainer.create(gpu, {
    ...s.options,
    train: data.train,
    test: data.test,
    ...(init ? { init, initName: initName ?? 'weights' } : {}),
  });
}

type Phase =
  | 'boot' // finding a GPU and loading data
  | 'idle' // no trainer
  | 'ready' // a trainer made from loaded weights, not trained yet
  | 'running'
  | 'pausing'
  | 'paused'
  | 'done'
  | 'diverged' // rolled back to the last good weights
  | 'failed' // a GPU error: Reset to start over
  | 'lost' // the device is gone: Restart and continue
  | 'busy'; // creating a trainer, loading weights, restarting

const PHASE_LABEL: Record<Phase, string> = {
  boot: 'starting',
  idle: 'ready',
  ready: 'weights loaded',
  running: 'training',
  pausing: 'pausing…',
  paused: 'paused',
  done: 'done',
  diverged: 'diverged',
  failed: 'stopped',
  lost: 'device lost',
  busy: 'working…',
};

/** How often the drawing's probabilities are refreshed while training. */
const LIVE_PREDICTION_MS = 1000;
/** How far back the samples/s and ETA figures look. */
const SPEED_WINDOW_MS = 3000;

interface Knobs {
  readonly subset: number | undefined;
  readonly test: number | undefined;
  readonly debug: boolean;
}

function readKnobs(search: string): Knobs {
  const params = new URLSearchParams(search);
  const count = (name: string) => {
    const n = Number(params.get(name));
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  };
  return { subset: count('subset'), test: count('test'), debug: params.has('debug') };
}

const nextFrame = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));

class App {
  private readonly knobs = readKnobs(location.search);
  private readonly el = {
    adapter: byId('adapter'),
    adapterName: byId('adapter-name'),
    adapterDetail: byId('adapter-detail'),
    noWebGpu: byId('no-webgpu'),
    noWebGpuTitle: byId('no-webgpu-title'),
    noWebGpuSteps: byId('no-webgpu-steps'),
    dataBox: byId('data-box'),
    dataStatus: byId('data-status'),
    dataProgress: byId('data-progress'),
    dataFiles: byId<HTMLInputElement>('data-files'),
    epochs: byId<HTMLInputElement>('epochs'),
    batchSize: byId<HTMLInputElement>('batch-size'),
    lr: byId<HTMLInputElement>('lr'),
    momentum: byId<HTMLInputElement>('momentum'),
    seed: byId<HTMLInputElement>('seed'),
    start: byId<HTMLButtonElement>('start'),
    pause: byId<HTMLButtonElement>('pause'),
    reset: byId<HTMLButtonElement>('reset'),
    restart: byId<HTMLButtonElement>('restart'),
    save: byId<HTMLButtonElement>('save'),
    load: byId<HTMLInputElement>('load'),
    loadButton: byId('load-button'),
    phase: byId('phase'),
    trainProgress: byId('train-progress'),
    statEpoch: byId('stat-epoch'),
    statStep: byId('stat-step'),
    statLoss: byId('stat-loss'),
    statSpeed: byId('stat-speed'),
    statElapsed: byId('stat-elapsed'),
    statEta: byId('stat-eta'),
    chart: byId<HTMLCanvasElement>('loss-chart'),
    seen: byId<HTMLCanvasElement>('seen'),
    probs: byId('probs'),
    showSample: byId<HTMLButtonElement>('show-sample'),
    showMistakes: byId<HTMLButtonElement>('show-mistakes'),
    diagnostics: byId('diagnostics'),
    dropOverlay: byId('drop-overlay'),
  };
  private readonly message = new MessageBar(byId('message'));
  private readonly chart = new LossChart(this.el.chart);
  private readonly accuracy = new AccuracyList(byId('accuracy-list'), byId('accuracy'));
  private readonly grid = new DigitGrid(byId('grid'), byId('grid-summary'));
  private readonly probs = new ProbabilityBars(this.el.probs, byId('verdict'));
  private readonly pad = new DrawingPad(byId<HTMLCanvasElement>('pad'), () => this.requestPrediction());
  private readonly dropped = new DroppedFiles();

  private gpu: Gpu | undefined;
  private data: Mnist | undefined;
  private trainer: Trainer | undefined;
  private phase: Phase = 'boot';
  /** where to go back to after a device loss is repaired */
  private phaseBeforeLoss: Phase = 'idle';
  /** aborted to pause the training loop after the work in flight */
  private pauser = new AbortController();
  /** the settings of the current trainer (its options without data, and the epochs to train) */
  private settings: RunSettings | undefined;
  private completed = false;
  private running: Promise<void> | undefined;
  /** The trainer's full state at the last epoch end (or when it was made or given weights): what a restart continues from. */
  private checkpoint: TrainerState | undefined;
  private readonly retired = new WeakSet<Gpu>();

  // Progress figures of the current training, drawn once per frame.
  private stepsDone = 0;
  private activeSeconds = 0;
  private segmentStart: number | undefined;
  private speed: { time: number; steps: number; samples: number }[] = [];
  private statsFrame = 0;
  private clock: ReturnType<typeof setInterval> | undefined;

  private drawingDirty = false;
  private lastLivePrediction = 0;
  private prediction: Promise<void> | undefined;

  async boot(): Promise<void> {
    this.wire();
    this.updateControls();
    setInterval(() => this.updateDiagnostics(), 500);
    if (this.knobs.debug) this.exposeDebugHooks();
    await Promise.all([this.acquire(), this.loadFromServer()]);
    if (this.phase === 'boot') this.setPhase('idle');
  }

  // ---- set-up -------------------------------------------------------------------------------

  private wire(): void {
    const { el } = this;
    el.start.addEventListener('click', () => void this.guard(() => this.start()));
    el.pause.addEventListener('click', () => void this.guard(async () => this.togglePause()));
    el.reset.addEventListener('click', () => void this.guard(() => this.reset()));
    el.restart.addEventListener('click', () => void this.guard(() => this.restart()));
    el.save.addEventListener('click', () => void this.guard(() => this.save()));
    el.load.addEventListener('change', () => {
      const file = el.load.files?.[0];
      el.load.value = '';
      if (file) void this.guard(() => this.loadWeights(file));
    });
    el.dataFiles.addEventListener('change', () => {
      const files = [...(el.dataFiles.files ?? [])];
      el.dataFiles.value = '';
      void this.guard(() => this.addDataFiles(files));
    });
    byId('clear').addEventListener('click', () => this.pad.clear());
    const mode = (m: GridMode) => {
      this.grid.setMode(m);
      el.showSample.setAttribute('aria-pressed', String(m === 'sample'));
      el.showMistakes.setAttribute('aria-pressed', String(m === 'mistakes'));
    };
    el.showSample.addEventListener('click', () => mode('sample'));
    el.showMistakes.addEventListener('click', () => mode('mistakes'));
    for (const input of [el.epochs, el.batchSize, el.lr, el.momentum, el.seed]) {
      input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
    }

    // Files dropped anywhere on the page: MNIST files, or a .safetensors file of weights.
    let depth = 0;
    const hasFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false;
    window.addEventListener('dragenter', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      el.dropOverlay.hidden = false;
    });
    window.addEventListener('dragover', (e) => {
      if (hasFiles(e)) e.preventDefault();
    });
    window.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) el.dropOverlay.hidden = true;
    });
    window.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      el.dropOverlay.hidden = true;
      const files = [...(e.dataTransfer?.files ?? [])];
      const weights = files.find((f) => /\.safetensors$/i.test(f.name));
      if (weights) void this.guard(() => this.loadWeights(weights));
      else if (files.length) void this.guard(() => this.addDataFiles(files));
    });
  }

  /** Runs a button's action; whatever it throws ends up in the message bar, never unhandled. */
  private async guard(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.say('error', describeError(error));
      if (this.phase === 'busy') this.setPhase(this.trainer ? 'paused' : 'idle');
    }
  }

  private async acquire(): Promise<void> {
    const { el } = this;
    try {
      const gpu = await acquireGpu();
      this.gpu = gpu;
      void gpu.lost.then((error) => {
        if (gpu === this.gpu && !this.retired.has(gpu)) this.deviceLost(error);
      });
      const a = gpu.adapter;
      el.adapter.dataset.state = a.isFallback ? 'fallback' : 'ok';
      setText(el.adapterName, [a.vendor, a.architecture].filter(Boolean).join(' · ') || 'Unknown GPU');
      setText(
        el.adapterDetail,
        [a.description || a.device, a.isFallback ? 'software (fallback) adapter: training will be slow' : 'hardware adapter']
          .filter(Boolean)
          .join(' — '),
      );
      el.adapter.title = describeAdapter(a);
      el.noWebGpu.hidden = true;
    } catch (error) {
      this.gpu = undefined;
      const help = webGpuHelp();
      el.adapter.dataset.state = 'none';
      setText(el.adapterName, 'No WebGPU');
      setText(el.adapterDetail, describeError(error));
      setText(el.noWebGpuTitle, help.title);
      el.noWebGpuSteps.replaceChildren(
        ...[`The page could not get a GPU device: ${describeError(error)}.`, ...help.steps].map((text) => {
          const li = document.createElement('li');
          li.textContent = text;
          return li;
        }),
      );
      el.noWebGpu.hidden = false;
    }
    this.updateControls();
  }

  // ---- data ---------------------------------------------------------------------------------

  private dataState(state: 'loading' | 'ready' | 'needed' | 'error', text: string, fraction?: number): void {
    this.el.dataBox.dataset.state = state;
    setText(this.el.dataStatus, text);
    setProgress(this.el.dataProgress, fraction);
  }

  private async loadFromServer(): Promise<void> {
    const base = new URL('mnist/', document.baseURI);
    this.dataState('loading', 'Looking for MNIST on the server…');
    try {
      const mnist = await fetchMnist(base, (fraction, text) => this.dataState('loading', text, fraction));
      this.setData(mnist, 'from the server');
    } catch (error) {
      if (error instanceof DataNotOnServer) {
        this.dataState(
          'needed',
          `No MNIST on this server (${error.message}). Choose or drop the four files: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz.`,
        );
      } else {
        this.dataState(
          'error',
          `Could not load MNIST from the server: ${describeError(error)}. Choose or drop the four .gz files instead.`,
        );
      }
    }
  }

  private async addDataFiles(files: File[]): Promise<void> {
    if (this.running || this.phase === 'busy') {
      this.say('warn', 'Pause or reset the training before loading other data.');
      return;
    }
    const ignored = this.dropped.add(files);
    const note = ignored.length ? ` (${ignored.join(', ')}: not an MNIST file name)` : '';
    const missing = this.dropped.missing;
    if (missing.length) {
      this.dataState(
        'needed',
        `Got ${4 - missing.length} of the 4 files${note}; still missing: ${missing.map((m) => `${m}.gz`).join(', ')}.`,
      );
      return;
    }
    try {
      this.dataState('loading', 'Reading the files…');
      const mnist = await this.dropped.load((fraction, text) => this.dataState('loading', text, fraction));
      if (this.trainer) await this.reset();
      this.setData(mnist, 'from your files');
    } catch (error) {
      this.dataState('error', `${describeError(error)}. Choose the four original MNIST files (.gz or uncompressed).`);
    } finally {
      this.dropped.clear();
    }
  }

  private setData(mnist: Mnist, source: string): void {
    const data = takeSubset(mnist, this.knobs.subset, this.knobs.test);
    this.data = data;
    const subset = data.train.count < mnist.train.count || data.test.count < mnist.test.count ? ' (a subset, from the URL)' : '';
    this.dataState(
      'ready',
      `${formatCount(data.train.count)} training and ${formatCount(data.test.count)} test images ${source}${subset}.`,
      1,
    );
    this.grid.setData(data.test);
    this.updateControls();
  }

  // ---- training -----------------------------------------------------------------------------

  private readConfig(): RunSettings {
    const { el } = this;
    const value = (input: HTMLInputElement, name: string) => {
      const v = input.valueAsNumber;
      if (!Number.isFinite(v)) {
        input.setAttribute('aria-invalid', 'true');
        throw new InputError(`${name}: enter a number`);
      }
      return v;
    };
    const epochs = value(el.epochs, 'epochs');
    if (!(Number.isSafeInteger(epochs) && epochs >= 1)) {
      el.epochs.setAttribute('aria-invalid', 'true');
      throw new InputError(`epochs must be a whole number of at least 1, got ${epochs}`);
    }
    return {
      epochs,
      options: {
        model: mlp(SEED_LAYERS),
        optimizer: sgd({ lr: value(el.lr, 'learning rate'), momentum: value(el.momentum, 'momentum') }),
        batchSize: value(el.batchSize, 'batch size'),
        seed: value(el.seed, 'seed'),
      },
    };
  }

  private async start(): Promise<void> {
    const gpu = this.gpu;
    const data = this.data;
    if (!gpu || !data) return;
    const settings = this.readConfig();
    const previous = this.phase;
    this.setPhase('busy');
    this.say('info', 'Compiling the kernels and uploading the data…');
    let init: Map<string, Tensor> | undefined;
    if (this.trainer) {
      // From loaded weights ('ready'): a new trainer with the settings as they are now.
      init = await this.trainer.stateDict();
      await this.dropTrainer();
    }
    try {
      this.trainer = await createTrainer(gpu, data, settings, init, 'the loaded weights');
      this.settings = settings;
      this.completed = false;
    } catch (error) {
      this.setPhase(previous === 'ready' ? 'idle' : previous);
      throw error;
    }
    this.checkpoint = await this.trainer.saveState();
    this.chart.clear();
    this.accuracy.clear();
    this.grid.setPredictions(undefined);
    this.chart.setPlan(settings.epochs * this.trainer.stepsPerEpoch, this.trainer.stepsPerEpoch);
    this.stepsDone = 0;
    this.activeSeconds = 0;
    this.resume();
    this.requestPrediction();
  }

  private resume(): void {
    const trainer = this.trainer!;
    const lr = this.el.lr.valueAsNumber;
    if (lr !== trainer.config.optimizer.lr) {
      try {
        trainer.setLearningRate(lr);
      } catch (error) {
        this.el.lr.setAttribute('aria-invalid', 'true');
        throw error;
      }
    }
    this.pauser = new AbortController();
    this.speed = [];
    this.segmentStart = performance.now();
    this.clock = setInterval(() => this.scheduleStats(), 500);
    this.setPhase('running');
    this.say(
      'info',
      `Training on ${formatCount(trainer.train.count)} images: ${trainer.stepsPerEpoch} steps of ${trainer.config.batchSize} per epoch.`,
    );
    this.running = this.run(trainer).finally(() => {
      this.running = undefined;
    });
  }

  private hooks(trainer: Trainer): FitOptions {
    return {
      epochs: this.settings!.epochs,
      signal: this.pauser.signal,
      onChunk: (r) => {
        if (trainer !== this.trainer) return;
        this.chart.push(r.firstStep, r.losses);
        this.stepsDone = r.firstStep + r.losses.length;
        const now = performance.now();
        this.speed.push({ time: now, steps: r.losses.length, samples: r.samples });
        while (this.speed.length > 2 && now - this.speed[0]!.time > SPEED_WINDOW_MS) this.speed.shift();
        this.scheduleStats();
        // The drawing's probabilities follow the training, about once a second.
        if (!this.pad.isEmpty && now - this.lastLivePrediction > LIVE_PREDICTION_MS) {
          this.lastLivePrediction = now;
          this.requestPrediction();
        }
      },
      onEpoch: async (e) => {
        if (trainer !== this.trainer) return;
        this.accuracy.add(e.epoch + 1, e.test!.accuracy, e.test!.loss);
        this.chart.markTest(trainer.globalStep, e.test!.loss);
        // Nothing is in flight now: keep the state for a restart, and show the new predictions.
        this.checkpoint = await trainer.saveState();
        this.grid.setPredictions(await trainer.testPredictions());
        this.requestPrediction();
      },
    };
  }

  private async run(trainer: Trainer): Promise<void> {
    let failure: unknown;
    try {
      const result = await trainer.fit(this.hooks(trainer));
      if (trainer === this.trainer) this.completed = result.stopped === 'completed';
    } catch (error) {
      failure = error;
    }
    this.endSegment();
    if (trainer !== this.trainer || this.phase === 'lost') return;
    if (failure === undefined) {
      if (this.completed) {
        this.setPhase('done');
        const acc = this.accuracy.latest;
        this.say(
          'ok',
          `Done: ${this.settings!.epochs} epochs in ${formatDuration(this.activeSeconds)}${acc === undefined ? '' : `, test accuracy ${formatPercent(acc, 2)}`}. Draw a digit to try it, or save the weights.`,
        );
      } else {
        this.setPhase('paused');
        this.say('info', 'Paused. You may change the learning rate, then Resume.');
      }
    } else if (failure instanceof DivergenceError) {
      this.setPhase('diverged');
      const good = trainer.lastGoodStep;
      const weights = good === undefined ? 'the last good ones' : good === 0 ? 'the starting weights' : `the weights after step ${good}`;
      this.say(
        'error',
        `${failure.message}. The weights were rolled back to ${weights}: they can still be saved and tried on a drawing. Lower the learning rate and Resume, or Reset.`,
      );
      this.requestPrediction();
    } else if (failure instanceof DeviceLostError) {
      this.deviceLost(failure);
    } else {
      this.setPhase('failed');
      this.say('error', `${describeError(failure)}. Save the weights if you need them, then Reset.`);
    }
  }

  private togglePause(): void {
    if (this.phase === 'running') {
      this.pauser.abort();
      this.setPhase('pausing');
    } else if (this.phase === 'paused' || this.phase === 'diverged') {
      this.resume();
    }
  }

  private endSegment(): void {
    if (this.segmentStart !== undefined) this.activeSeconds += (performance.now() - this.segmentStart) / 1000;
    this.segmentStart = undefined;
    clearInterval(this.clock);
    this.scheduleStats();
  }

  /** Waits for the training loop and any prediction to let go of the trainer, then disposes it. */
  private async dropTrainer(): Promise<void> {
    this.pauser.abort();
    await this.running;
    await this.prediction;
    this.trainer?.dispose();
    this.trainer = undefined;
  }

  private async reset(): Promise<void> {
    if (this.running) this.setPhase('pausing');
    await this.dropTrainer();
    this.checkpoint = undefined;
    this.chart.clear();
    this.chart.setPlan(1, 1);
    this.accuracy.clear();
    this.grid.setPredictions(undefined);
    this.stepsDone = 0;
    this.activeSeconds = 0;
    this.message.clear();
    if (this.phase === 'lost') await this.restart();
    else this.setPhase('idle');
    this.requestPrediction();
  }

  // ---- device loss --------------------------------------------------------------------------

  private deviceLost(error: DeviceLostError): void {
    if (this.phase === 'lost') return;
    this.pauser.abort();
    this.phaseBeforeLoss = this.phase === 'pausing' || this.phase === 'busy' ? 'paused' : this.phase;
    this.el.adapter.dataset.state = 'lost';
    this.setPhase('lost');
    const kept = this.checkpoint;
    const where =
      kept &&
      (kept.globalStep === 0 ? 'before training' : kept.stepInEpoch === 0 ? `the end of epoch ${kept.epoch}` : `step ${kept.globalStep}`);
    this.el.restart.textContent = kept && this.trainer ? 'Restart and continue' : 'Restart';
    this.say(
      'error',
      `${error.message}. ${where ? `The page kept a copy of the weights (${where}): “Restart and continue” gets a new GPU device and carries on from there.` : '“Restart” gets a new GPU device.'}`,
    );
  }

  /** A new device, and a new trainer from the kept state; training goes on if it was running. */
  private async restart(): Promise<void> {
    const data = this.data;
    const settings = this.settings;
    const kept = this.trainer ? this.checkpoint : undefined;
    const wasRunning = this.phaseBeforeLoss === 'running';
    this.setPhase('busy');
    this.say('info', 'Getting a new GPU device…');
    await this.dropTrainer();
    const old = this.gpu;
    if (old) {
      this.retired.add(old);
      old.destroy();
    }
    this.gpu = undefined;
    await this.acquire();
    const gpu = this.gpu as Gpu | undefined;
    if (!gpu) {
      this.setPhase('lost');
      this.say('error', 'No GPU device could be had again. Reload the page to try once more.');
      return;
    }
    if (!settings || !kept || !data) {
      this.setPhase('idle');
      this.message.clear();
      return;
    }
    const trainer = await createTrainer(gpu, data, settings);
    trainer.restoreState(kept);
    this.trainer = trainer;
    this.settings = settings;
    this.chart.truncate(kept.globalStep);
    this.accuracy.truncate(kept.epoch);
    this.stepsDone = kept.globalStep;
    this.requestPrediction();
    if (this.completed) {
      this.setPhase('done');
      this.say('ok', 'The GPU device is back, with the trained weights.');
    } else if (wasRunning) {
      this.resume();
      this.say('ok', `The GPU device is back: training goes on from step ${kept.globalStep}.`);
    } else {
      this.setPhase(this.phaseBeforeLoss === 'ready' ? 'ready' : 'paused');
      this.say('ok', 'The GPU device is back, with the weights the page kept. Resume when you like.');
    }
  }

  // ---- weights ------------------------------------------------------------------------------

  private async save(): Promise<void> {
    const trainer = this.trainer;
    if (!trainer) return;
    const accuracy = this.accuracy.latest;
    const bytes = await trainer.saveSafetensors({
      epochs: String(trainer.epoch),
      ...(accuracy === undefined ? {} : { test_accuracy: accuracy.toFixed(4) }),
    });
    const name = `mnist-mlp-epoch${trainer.epoch}.safetensors`;
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    this.say('ok', `Saved ${name} (${(bytes.length / 1e6).toFixed(1)} MB).`);
  }

  private async loadWeights(file: File): Promise<void> {
    const gpu = this.gpu;
    const data = this.data;
    if (!gpu || !data) {
      this.say('warn', 'Loading weights needs the data and a GPU device first.');
      return;
    }
    if (this.running || this.phase === 'busy' || this.phase === 'lost') {
      this.say('warn', 'Pause the training before loading weights.');
      return;
    }
    const previous = this.phase;
    this.setPhase('busy');
    try {
      const { tensors } = decodeSafetensors(new Uint8Array(await file.arrayBuffer()), file.name);
      const layers = layersOfStateDict(tensors);
      if (!layers) throw new InputError(`${file.name} has no l1.weight, l2.weight, … tensors: not weights of this kind of network`);
      if (layers.join('-') !== SEED_LAYERS.join('-')) {
        throw new InputError(`${file.name} holds a ${layers.join('-')} network; this page trains ${SEED_LAYERS.join('-')}`);
      }
      if (this.trainer) await this.trainer.loadSafetensors(tensors, file.name);
      else {
        const settings = this.readConfig();
        this.trainer = await createTrainer(gpu, data, settings, tensors, file.name);
        this.settings = settings;
        this.completed = false;
      }
    } catch (error) {
      this.setPhase(previous);
      throw error;
    }
    const trainer = this.trainer;
    this.checkpoint = await trainer.saveState();
    const result = await trainer.evaluate();
    this.accuracy.add(trainer.epoch, result.accuracy, result.loss, 'Loaded');
    this.grid.setPredictions(await trainer.testPredictions());
    this.setPhase(previous === 'idle' ? 'ready' : previous === 'diverged' || previous === 'failed' ? 'paused' : previous);
    this.requestPrediction();
    this.say('ok', `Loaded ${file.name}: test accuracy ${formatPercent(result.accuracy, 2)} on ${formatCount(result.count)} test images.`);
  }

  // ---- drawing ------------------------------------------------------------------------------

  /** Coalesces pad changes: at most one preprocessing and one GPU prediction at a time, the latest drawing wins. */
  private requestPrediction(): void {
    this.drawingDirty = true;
    // `data-busy` tells whoever watches (the browser test) that newer probabilities are coming.
    this.el.probs.dataset.busy = 'true';
    this.prediction ??= this.predictLoop().finally(() => {
      this.prediction = undefined;
      delete this.el.probs.dataset.busy;
    });
  }

  private async predictLoop(): Promise<void> {
    while (this.drawingDirty) {
      await nextFrame();
      this.drawingDirty = false;
      const pixels = this.pad.isEmpty ? null : preprocessDigit(this.pad.ink());
      this.paintSeen(pixels);
      const trainer = this.trainer;
      if (!pixels) {
        this.probs.show(undefined, 'Draw a digit in the box.');
      } else if (!trainer || this.phase === 'lost' || this.phase === 'busy') {
        this.probs.show(
          undefined,
          this.trainer ? 'Waiting for the GPU…' : 'Start training (or load weights) to see what the network thinks.',
        );
      } else {
        try {
          const probs = await trainer.predict(pixels);
          if (trainer === this.trainer) this.probs.show(probs);
        } catch (error) {
          if (!this.gpu?.isLost) this.say('error', `Could not run the network on the drawing: ${describeError(error)}`);
        }
      }
    }
  }

  private paintSeen(pixels: Float32Array | null): void {
    const context = this.el.seen.getContext('2d')!;
    const image = context.createImageData(MNIST_SIDE, MNIST_SIDE);
    if (pixels) for (let i = 0; i < pixels.length; i++) image.data[i * 4 + 3] = Math.round(pixels[i]! * 255);
    context.putImageData(image, 0, 0);
  }

  // ---- display ------------------------------------------------------------------------------

  private say(tone: Tone, text: string): void {
    this.message.show(tone, text);
  }

  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.updateControls();
    this.scheduleStats();
    this.updateDiagnostics();
  }

  /** What can be pressed follows from the phase, the device and the data alone. */
  private updateControls(): void {
    const { el, phase } = this;
    const usable = Boolean(this.gpu && !this.gpu.isLost && this.data);
    const trainer = this.trainer;
    const noGpu = !this.gpu && phase !== 'boot';
    el.phase.dataset.phase = noGpu ? 'nogpu' : phase;
    setText(el.phase, noGpu ? 'no WebGPU' : PHASE_LABEL[phase]);
    el.start.disabled = !(usable && (phase === 'idle' || phase === 'ready'));
    const resumable = phase === 'paused' || phase === 'diverged';
    setText(el.pause, resumable ? 'Resume' : phase === 'pausing' ? 'Pausing…' : 'Pause');
    el.pause.disabled = !(phase === 'running' || resumable);
    el.pause.classList.toggle('primary', resumable);
    el.reset.disabled = !(trainer || phase === 'lost') || phase === 'busy' || phase === 'pausing';
    el.restart.hidden = phase !== 'lost';
    el.save.disabled = !trainer || phase === 'busy' || phase === 'lost';
    const loadable = usable && !['running', 'pausing', 'busy', 'lost', 'boot'].includes(phase);
    el.load.disabled = !loadable;
    el.loadButton.dataset.disabled = String(!loadable);
    el.dataFiles.disabled = ['running', 'pausing', 'busy'].includes(phase);
    // The settings make a trainer; only the learning rate can change once it exists.
    const fixed = Boolean(trainer) && phase !== 'ready';
    for (const input of [el.epochs, el.batchSize, el.momentum, el.seed]) input.disabled = fixed || phase === 'busy';
    el.lr.disabled = ['running', 'pausing', 'busy'].includes(phase);
  }

  private scheduleStats(): void {
    this.statsFrame ||= requestAnimationFrame(() => {
      this.statsFrame = 0;
      this.renderStats();
    });
  }

  private renderStats(): void {
    const { el } = this;
    const trainer = this.trainer;
    el.chart.dataset.points = String(this.chart.points);
    if (!trainer || (this.stepsDone === 0 && this.phase !== 'running')) {
      for (const e of [el.statEpoch, el.statStep, el.statLoss, el.statSpeed, el.statElapsed, el.statEta]) setText(e, '–');
      setProgress(el.trainProgress, 0);
      return;
    }
    const perEpoch = trainer.stepsPerEpoch;
    const epochs = this.settings?.epochs ?? 1;
    const total = epochs * perEpoch;
    const done = this.stepsDone;
    // At an epoch's end this is still that epoch (step 6 / 6), not the next one's step 0.
    const epochIndex = Math.min(Math.max(0, Math.ceil(done / perEpoch) - 1), epochs - 1);
    setText(el.statEpoch, `${epochIndex + 1} / ${epochs}`);
    setText(el.statStep, `${done - epochIndex * perEpoch} / ${perEpoch}`);
    const loss = this.chart.lastSmoothed;
    setText(el.statLoss, Number.isFinite(loss) ? loss.toFixed(3) : '–');
    const window = this.speed;
    let stepsPerSecond = NaN;
    if (window.length >= 2) {
      const seconds = (window[window.length - 1]!.time - window[0]!.time) / 1000;
      const later = window.slice(1);
      stepsPerSecond = later.reduce((a, w) => a + w.steps, 0) / seconds;
      setText(el.statSpeed, formatCount(later.reduce((a, w) => a + w.samples, 0) / seconds));
    } else if (this.phase === 'running') {
      setText(el.statSpeed, '…');
    }
    const elapsed = this.activeSeconds + (this.segmentStart === undefined ? 0 : (performance.now() - this.segmentStart) / 1000);
    setText(el.statElapsed, formatDuration(elapsed));
    const remaining = total - done;
    setText(
      el.statEta,
      remaining <= 0 ? 'done' : this.phase === 'running' && stepsPerSecond > 0 ? formatDuration(remaining / stepsPerSecond) : '–',
    );
    setProgress(el.trainProgress, done / total);
  }

  private updateDiagnostics(): void {
    const gpu = this.gpu;
    const live = gpu ? gpu.buffers.live : 0;
    this.el.diagnostics.dataset.live = String(live);
    setText(
      this.el.diagnostics,
      gpu
        ? `GPU buffers live: ${live} (${(gpu.buffers.liveBytes / 1e6).toFixed(1)} MB) · device ${gpu.isLost ? 'lost' : 'ok'} · ${PHASE_LABEL[this.phase]}`
        : 'GPU buffers live: – (no device)',
    );
  }

  private exposeDebugHooks(): void {
    (window as unknown as { __demo: unknown }).__demo = {
      /** Destroys the device behind the engine's back, as a driver reset would lose it. */
      loseDevice: () => this.gpu?.device.destroy(),
      liveBuffers: () => this.gpu?.buffers.live ?? -1,
      phase: () => this.phase,
    };
  }
}

void new App().boot();
