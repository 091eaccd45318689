/**
 * The demo page: the engine runs in a worker (worker.ts); this side sends it commands and draws
 * what comes back, so the main thread never waits for the GPU, the data or a save. One App owns
 * the page's state; every button goes through it, and `updateControls()` derives what is enabled
 * from the phase alone.
 *
 * Test-only URL knobs: `?subset=N&test=M` train and test on the first N / M images;
 * `?debug` exposes `window.__demo` (device loss, buffer count, weights hash) for test/demo.test.ts.
 */
import './styles/index.css';
import { PageActions } from './actions.ts';
import { DataPanel } from './data-panel.ts';
import { showAdapter, showNoWebGpu } from './device.ts';
import { DrawPanel } from './draw-panel.ts';
import { wireDrops } from './drop.ts';
import { Engine, WorkerError } from './engine.ts';
import type { GridMode } from './grid.ts';
import type { Note, RunInfo, RunSettings } from './protocol.ts';
import { downloadBlob } from './runs.ts';
import { byId, formatCount, formatDuration, formatPercent, setText } from './ui.ts';

/** How often the drawing's probabilities and the GPU profile follow the training. */
const LIVE_PREDICTION_MS = 1000;
const LIVE_PROFILE_MS = 15_000;

function readKnobs(search: string) {
  const params = new URLSearchParams(search);
  const count = (name: string) => {
    const n = Number(params.get(name));
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  };
  return { subset: count('subset'), test: count('test'), debug: params.has('debug') };
}

class App extends PageActions {
  private readonly knobs = readKnobs(location.search);
  protected readonly engine = new Engine();

  protected get dataLoaded(): boolean {
    return this.data.loaded;
  }
  private readonly drawing = new DrawPanel({
    unavailable: () =>
      !this.run
        ? 'Start training (or load weights) to see what the network thinks.'
        : this.phase === 'lost' || this.phase === 'busy'
          ? 'Waiting for the GPU…'
          : undefined,
    predict: async (pixels) => {
      const id = this.run?.id;
      const probs = await this.engine.call({ type: 'predict', pixels });
      return id === this.run?.id ? probs : undefined;
    },
    failed: (error) => {
      if (!this.deviceLost)
        this.say('error', `Could not run the network on the drawing: ${error instanceof Error ? error.message : String(error)}`);
    },
  });
  private readonly data = new DataPanel(this.engine, this.knobs, {
    canLoad: () => !this.fitting && this.phase !== 'busy',
    beforeReplace: async () => {
      if (this.run) await this.reset();
    },
    ready: (grid) => {
      this.grid.set(grid);
      this.updateControls();
    },
    warn: (text) => this.say('warn', text),
  });

  async boot(): Promise<void> {
    this.wire();
    this.engine.onNote = (note) => this.onNote(note);
    this.updateControls();
    if (this.knobs.debug) this.exposeDebugHooks();
    // The page's first layout and paint before the device and the data: the worker's start-up
    // (decompressing MNIST, compiling for the GPU) would otherwise share the CPU with them.
    await new Promise((painted) => requestAnimationFrame(() => setTimeout(painted)));
    await Promise.all([this.acquire(), this.data.fromServer()]);
    if (this.phase === 'boot') this.setPhase('idle');
    await this.guard(() => this.offerSaved());
  }

  private wire(): void {
    const { el } = this;
    const on = (e: HTMLElement, action: () => Promise<void> | void) =>
      e.addEventListener('click', () => void this.guard(async () => action()));
    on(el.start, () => this.start());
    on(el.pause, () => this.togglePause());
    on(el.reset, () => this.reset());
    on(el.restart, () => this.restart());
    on(el.save, () => this.save());
    on(byId('resume'), () => this.resumeSaved());
    on(byId('discard-saved'), () => void (el.resumeBox.hidden = true));
    on(byId('clear-saved'), () => this.clearSaved());
    on(el.profileRun, () => this.profileNow());
    on(el.exportCsv, () => this.exportCsv());
    on(byId('export-png'), async () => downloadBlob('mnist-charts.png', await this.charts.png()));
    this.form.el.lr.addEventListener('change', () => void this.guard(() => this.liveLearningRate(true)));
    el.load.addEventListener('change', () => {
      const file = el.load.files?.[0];
      el.load.value = '';
      if (file) void this.guard(() => this.loadWeights(file));
    });
    el.dataFiles.addEventListener('change', () => {
      const files = [...(el.dataFiles.files ?? [])];
      el.dataFiles.value = '';
      void this.guard(() => this.data.fromFiles(files));
    });
    const sample = byId('show-sample');
    const mistakes = byId('show-mistakes');
    const mode = (m: GridMode) => {
      this.grid.setMode(m);
      sample.setAttribute('aria-pressed', String(m === 'sample'));
      mistakes.setAttribute('aria-pressed', String(m === 'mistakes'));
    };
    sample.addEventListener('click', () => mode('sample'));
    mistakes.addEventListener('click', () => mode('mistakes'));
    wireDrops(byId('drop-overlay'), {
      weights: (file) => void this.guard(() => this.loadWeights(file)),
      data: (files) => void this.guard(() => this.data.fromFiles(files)),
    });
  }

  /** Runs a button's action; whatever it throws ends up in the message bar, never unhandled. */
  private async guard(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.say('error', error instanceof Error ? error.message : String(error));
      if (this.phase === 'busy') this.setPhase(this.run ? 'paused' : 'idle');
    }
  }

  private onNote(note: Note): void {
    switch (note.type) {
      case 'data-progress':
        this.data.state('loading', note.text, note.fraction);
        break;
      case 'chunk': {
        this.chart.push(note.firstStep, note.losses);
        this.stats.loss = this.chart.lastSmoothed;
        this.stats.chunk(note.firstStep, note.losses.length, note.samples);
        const now = performance.now();
        if (!this.drawing.pad.isEmpty && now - this.lastLivePrediction > LIVE_PREDICTION_MS) {
          this.lastLivePrediction = now;
          this.drawing.request();
        }
        if (now - this.lastProfile > LIVE_PROFILE_MS) void this.guard(() => this.profileNow());
        break;
      }
      case 'epoch':
        this.tests.push(note.point);
        this.accuracy.add(note.point.epoch, note.point.accuracy, note.point.loss);
        this.accChart.set(this.tests);
        this.chart.markTest(note.point.step, note.point.loss);
        this.grid.set(note.grid);
        this.drawing.request();
        break;
      case 'autosaved':
        this.el.autosave.dataset.step = String(note.globalStep);
        setText(
          this.el.autosave,
          `Saved in this browser at epoch ${note.stepInEpoch ? note.epoch + 1 : note.epoch}, step ${note.globalStep}: a reload can continue from there.`,
        );
        break;
      case 'autosave-failed':
        setText(this.el.autosave, `Could not save the run in this browser: ${note.message}`);
        break;
      case 'lost':
        this.onDeviceLost(note.message);
        break;
      case 'buffers':
        this.buffers = note;
        this.updateDiagnostics();
        break;
    }
  }

  private async acquire(): Promise<void> {
    try {
      this.device = await this.engine.call({ type: 'init' });
      this.deviceLost = false;
      showAdapter(this.device);
      this.profile.setDevice(this.device.timestamps);
    } catch (error) {
      this.device = undefined;
      showNoWebGpu(error instanceof Error ? error.message : String(error));
    }
    this.updateControls();
  }

  // ---- training -----------------------------------------------------------------------------

  private async start(): Promise<void> {
    const settings = this.form.read();
    const previous = this.phase;
    this.setPhase('busy');
    this.say('info', 'Compiling the kernels and uploading the data…');
    try {
      // From loaded weights ('ready'): a new run with the settings as they are now.
      const init = previous === 'ready' ? await this.engine.call({ type: 'save-weights' }) : undefined;
      this.run = await this.engine.call({
        type: 'create',
        settings,
        ...(init ? { init: { name: 'the loaded weights', bytes: init.bytes } } : {}),
      });
    } catch (error) {
      this.setPhase(previous === 'ready' ? 'idle' : previous);
      throw error;
    }
    this.el.resumeBox.hidden = true;
    this.adopt(this.run, undefined);
    this.grid.clearPredictions();
    this.stats.reset();
    this.stats.plan(this.run.stepsPerEpoch, settings.epochs, 0);
    await this.profileNow();
    this.resume();
    this.drawing.request();
  }

  protected resume(): void {
    const run = this.run!;
    this.setPhase('running');
    this.stats.begin();
    this.say(
      'info',
      `Training on ${formatCount(run.stepsPerEpoch * run.settings.batchSize)} images: ${run.stepsPerEpoch} steps of ${run.settings.batchSize} per epoch.`,
    );
    const fitting = this.liveLearningRate()
      .then(() => this.engine.call({ type: 'fit', epochs: run.settings.epochs }))
      .then(
        (r) => this.stopped(r.stopped, r.run),
        (error: unknown) => this.failed(error),
      )
      .finally(() => {
        this.fitting = undefined;
        this.stats.end();
      });
    this.fitting = fitting;
  }

  /** The learning rate field applies to the run at once (from the next submitted steps, when training). */
  private async liveLearningRate(announce = false): Promise<void> {
    const run = this.run;
    if (!run || this.phase === 'lost') return;
    const lr = this.form.learningRate();
    if (lr === run.settings.optimizer.lr) return;
    await this.engine.call({ type: 'set-lr', lr });
    this.run = { ...run, settings: { ...run.settings, optimizer: { ...run.settings.optimizer, lr } } };
    if (announce && this.phase === 'running') this.say('info', `Learning rate ${lr} from the next steps on.`);
  }

  private stopped(how: 'completed' | 'paused', run: RunInfo): void {
    this.run = run;
    if (this.phase === 'lost') return;
    if (how === 'paused') {
      this.setPhase('paused');
      return this.say('info', 'Paused (and saved in this browser). You may change the learning rate, then Resume.');
    }
    this.setPhase('done');
    this.runs.add(run);
    delete this.el.autosave.dataset.step;
    setText(this.el.autosave, 'The finished run is kept in this browser, for comparing runs.');
    const acc = this.accuracy.latest;
    this.say(
      'ok',
      `Done: ${run.settings.epochs} epochs in ${formatDuration(this.stats.seconds)}${acc === undefined ? '' : `, test accuracy ${formatPercent(acc, 2)}`}. Draw a digit to try it, or save the weights.`,
    );
  }

  private failed(error: unknown): void {
    if (this.phase === 'lost') return;
    const name = error instanceof Error ? error.name : '';
    const message = error instanceof Error ? error.message : String(error);
    if (name === 'DivergenceError') {
      this.setPhase('diverged');
      const good = error instanceof WorkerError ? error.lastGoodStep : undefined;
      const weights = good === undefined ? 'the last good ones' : good === 0 ? 'the starting weights' : `the weights after step ${good}`;
      this.say(
        'error',
        `${message}. The weights were rolled back to ${weights}: they can still be saved and tried on a drawing. Lower the learning rate and Resume, or Reset.`,
      );
      this.drawing.request();
    } else if (name === 'DeviceLostError') {
      this.onDeviceLost(message);
    } else {
      this.setPhase('failed');
      this.say('error', `${message}. Save the weights if you need them, then Reset.`);
    }
  }

  private async togglePause(): Promise<void> {
    if (this.phase === 'running') {
      this.setPhase('pausing');
      await this.engine.call({ type: 'pause' });
    } else if (this.phase === 'paused' || this.phase === 'diverged') {
      this.resume();
    }
  }

  private async reset(): Promise<void> {
    if (this.fitting) this.setPhase('pausing');
    const run = this.run;
    await this.engine.call({ type: 'dispose' });
    await this.fitting;
    await this.drawing.running;
    if (run && this.phase !== 'done' && this.chart.points > 0) {
      this.runs.add({ ...run, epoch: this.tests.length, history: { losses: this.chart.losses, tests: [...this.tests] } });
    }
    this.run = undefined;
    this.tests = [];
    this.chart.clear();
    this.chart.setPlan(1, 1);
    this.accuracy.clear();
    this.accChart.set([]);
    this.grid.clearPredictions();
    this.stats.reset();
    this.message.clear();
    if (this.phase === 'lost') await this.restart();
    else this.setPhase('idle');
    this.drawing.request();
  }

  // ---- device loss --------------------------------------------------------------------------

  private onDeviceLost(message: string): void {
    if (this.phase === 'lost') return;
    this.deviceLost = true;
    this.phaseBeforeLoss = this.phase === 'pausing' || this.phase === 'busy' ? 'paused' : this.phase;
    this.el.adapter.dataset.state = 'lost';
    this.setPhase('lost');
    const kept = this.tests.at(-1);
    const where = this.run && (kept ? `the end of epoch ${kept.epoch}` : 'before training');
    this.el.restart.textContent = this.run ? 'Restart and continue' : 'Restart';
    this.say(
      'error',
      `${message}. ${where ? `The worker kept a copy of the weights (${where}): “Restart and continue” gets a new GPU device and carries on from there.` : '“Restart” gets a new GPU device.'}`,
    );
  }

  /** A new device, and the run again from the state kept at its last epoch end; training goes on if it was running. */
  private async restart(): Promise<void> {
    const wasRunning = this.phaseBeforeLoss === 'running';
    this.setPhase('busy');
    this.say('info', 'Getting a new GPU device…');
    await this.fitting;
    let result;
    try {
      result = await this.engine.call({ type: 'restart' });
    } catch (error) {
      this.setPhase('lost');
      this.say(
        'error',
        `No GPU device could be had again (${error instanceof Error ? error.message : String(error)}). Reload the page to try once more.`,
      );
      return;
    }
    this.device = result.device;
    this.deviceLost = false;
    showAdapter(result.device);
    const run = result.run;
    if (!run) {
      this.run = undefined;
      this.message.clear();
      return this.setPhase('idle');
    }
    this.adopt(run, undefined);
    this.drawing.request();
    if (run.completed) {
      this.setPhase('done');
      this.say('ok', 'The GPU device is back, with the trained weights.');
    } else if (wasRunning) {
      this.resume();
      this.say('ok', `The GPU device is back: training goes on from step ${run.globalStep}.`);
    } else {
      this.setPhase(this.phaseBeforeLoss === 'ready' ? 'ready' : 'paused');
      this.say('ok', 'The GPU device is back, with the weights the worker kept. Resume when you like.');
    }
  }

  protected requestPrediction(): void {
    this.drawing.request();
  }

  private exposeDebugHooks(): void {
    (window as unknown as { __demo: unknown }).__demo = {
      /** Destroys the worker's device behind the engine's back, as a driver reset would lose it. */
      loseDevice: () => void this.engine.call({ type: 'lose-device' }),
      liveBuffers: () => this.buffers.live,
      phase: () => this.phase,
      /** SHA-256 of the current weights (all tensors, by name): equal hashes, equal weights. */
      weightsHash: () => this.engine.call({ type: 'weights-hash' }),
      settings: (): RunSettings | undefined => this.run?.settings,
    };
  }
}

// A task of its own, after the one that ran this module and laid out the page: two short tasks, not one long one.
setTimeout(() => void new App().boot());
