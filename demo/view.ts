/**
 * What the page shows, and the state it is drawn from: the controls (enabled by phase), the
 * charts, the stats, the message bar, the runs compared. main.ts's App adds what the buttons do.
 */
import { Charts } from './charts.ts';
import { DigitGrid } from './grid.ts';
import { PHASE_LABEL, type Phase } from './phase.ts';
import { ProfileView } from './profile-view.ts';
import type { DeviceInfo, EpochPoint, GridUpdate, RunInfo } from './protocol.ts';
import { RunsPanel } from './runs.ts';
import { SettingsForm } from './settings.ts';
import { TrainingStats } from './stats.ts';
import { AccuracyList, byId, MessageBar, setText, type Tone } from './ui.ts';

export abstract class PageView {
  protected readonly el = {
    adapter: byId('adapter'),
    dataFiles: byId<HTMLInputElement>('data-files'),
    start: byId<HTMLButtonElement>('start'),
    pause: byId<HTMLButtonElement>('pause'),
    reset: byId<HTMLButtonElement>('reset'),
    restart: byId<HTMLButtonElement>('restart'),
    save: byId<HTMLButtonElement>('save'),
    load: byId<HTMLInputElement>('load'),
    loadButton: byId('load-button'),
    phase: byId('phase'),
    chart: byId<HTMLCanvasElement>('loss-chart'),
    accChart: byId<HTMLCanvasElement>('acc-chart'),
    diagnostics: byId('diagnostics'),
    resumeBox: byId('resume-box'),
    resumeText: byId('resume-text'),
    profileRun: byId<HTMLButtonElement>('profile-run'),
    exportCsv: byId<HTMLButtonElement>('export-csv'),
    autosave: byId('autosave-status'),
  };
  protected readonly form = new SettingsForm();
  protected readonly message = new MessageBar(byId('message'));
  protected readonly charts = new Charts(this.el.chart, this.el.accChart);
  protected readonly chart = this.charts.loss;
  protected readonly accChart = this.charts.acc;
  protected readonly accuracy = new AccuracyList(byId('accuracy-list'), byId('accuracy'));
  protected readonly grid = new DigitGrid(byId('grid'), byId('grid-summary'));
  protected readonly profile = new ProfileView(byId('profile-bars'), byId('profile-shares'), byId('profile-summary'), byId('profile-note'));
  protected readonly runs = new RunsPanel(byId('runs-list'), byId('runs-empty'), (o) => {
    this.chart.setOverlays(o);
    this.accChart.setOverlays(o);
  });
  protected readonly stats = new TrainingStats();
  protected device: DeviceInfo | undefined;
  protected deviceLost = false;
  /** the worker's run: settings, steps per epoch, where it stands */
  protected run: RunInfo | undefined;
  protected tests: EpochPoint[] = [];
  protected phase: Phase = 'boot';
  protected phaseBeforeLoss: Phase = 'idle';
  protected fitting: Promise<void> | undefined;
  protected buffers = { live: 0, liveBytes: 0 };
  protected lastProfile = 0;
  protected lastLivePrediction = 0;

  /** whether the worker has data */
  protected abstract get dataLoaded(): boolean;

  /** Shows a run the worker has (continued or restarted): its curves and its position. */
  protected adopt(run: RunInfo, grid: GridUpdate | undefined): void {
    this.run = run;
    this.tests = [...run.history.tests];
    this.chart.clear();
    this.chart.setPlan(run.settings.epochs * run.stepsPerEpoch, run.stepsPerEpoch);
    this.chart.push(0, run.history.losses);
    for (const t of this.tests) this.chart.markTest(t.step, t.loss);
    this.accuracy.clear();
    for (const t of this.tests) this.accuracy.add(t.epoch, t.accuracy, t.loss);
    this.accChart.setPlan(run.settings.epochs);
    this.accChart.set(this.tests);
    if (grid) this.grid.set(grid);
    this.stats.plan(run.stepsPerEpoch, run.settings.epochs, run.globalStep);
    this.stats.loss = this.chart.lastSmoothed;
  }

  // ---- display ------------------------------------------------------------------------------

  protected say(tone: Tone, text: string): void {
    this.message.show(tone, text);
  }

  protected setPhase(phase: Phase): void {
    this.phase = phase;
    this.updateControls();
    this.stats.schedule();
    this.updateDiagnostics();
  }

  /** What can be pressed follows from the phase, the device and the data alone. */
  protected updateControls(): void {
    const { el, phase } = this;
    const usable = Boolean(this.device && !this.deviceLost && this.dataLoaded);
    const noGpu = !this.device && phase !== 'boot';
    el.phase.dataset.phase = noGpu ? 'nogpu' : phase;
    setText(el.phase, noGpu ? 'no WebGPU' : PHASE_LABEL[phase]);
    el.start.disabled = !(usable && (phase === 'idle' || phase === 'ready'));
    const resumable = phase === 'paused' || phase === 'diverged';
    setText(el.pause, resumable ? 'Resume' : phase === 'pausing' ? 'Pausing…' : 'Pause');
    el.pause.disabled = !(phase === 'running' || resumable);
    el.pause.classList.toggle('primary', resumable);
    el.reset.disabled = !(this.run || phase === 'lost') || phase === 'busy' || phase === 'pausing';
    el.restart.hidden = phase !== 'lost';
    el.save.disabled = !this.run || phase === 'busy' || phase === 'lost';
    const loadable = usable && !['running', 'pausing', 'busy', 'lost', 'boot'].includes(phase);
    el.load.disabled = !loadable;
    el.loadButton.dataset.disabled = String(!loadable);
    el.dataFiles.disabled = ['running', 'pausing', 'busy'].includes(phase);
    el.profileRun.disabled = !this.run || ['busy', 'lost', 'pausing'].includes(phase);
    el.exportCsv.disabled = !this.run;
    byId<HTMLButtonElement>('resume').disabled = !usable || !['idle', 'ready', 'done'].includes(phase);
    // The settings make a run; only the learning rate can change once it exists (even while it trains).
    this.form.lock(Boolean(this.run) && phase !== 'ready', phase === 'busy' || phase === 'pausing');
  }

  protected updateDiagnostics(): void {
    const { live, liveBytes } = this.buffers;
    this.el.diagnostics.dataset.live = String(live);
    setText(
      this.el.diagnostics,
      this.device
        ? `GPU buffers live: ${live} (${(liveBytes / 1e6).toFixed(1)} MB) · device ${this.deviceLost ? 'lost' : 'ok'} · ${PHASE_LABEL[this.phase]} · engine in a worker`
        : 'GPU buffers live: – (no device)',
    );
  }
}
