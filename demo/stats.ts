/**
 * The training figures under the card's title (epoch, step, loss, samples/s, elapsed, ETA) and
 * the progress bar: fed by the worker's chunk notes, drawn once a second while training (and at
 * once when the phase changes), in an animation frame.
 */
import { byId, formatCount, formatDuration, setProgress, setText } from './ui.ts';

/** How far back the samples/s and ETA figures look. */
const SPEED_WINDOW_MS = 3000;

export class TrainingStats {
  private readonly el = {
    progress: byId('train-progress'),
    epoch: byId('stat-epoch'),
    step: byId('stat-step'),
    loss: byId('stat-loss'),
    speed: byId('stat-speed'),
    elapsed: byId('stat-elapsed'),
    eta: byId('stat-eta'),
  };
  stepsDone = 0;
  stepsPerEpoch = 1;
  epochs = 1;
  running = false;
  /** the smoothed loss, from the chart */
  loss = NaN;
  private activeSeconds = 0;
  private segmentStart: number | undefined;
  private speed: { time: number; steps: number; samples: number }[] = [];
  private frame = 0;
  private clock: ReturnType<typeof setInterval> | undefined;

  /** A run (new, continued or restarted) at `stepsDone` steps. */
  plan(stepsPerEpoch: number, epochs: number, stepsDone: number): void {
    this.stepsPerEpoch = stepsPerEpoch;
    this.epochs = epochs;
    this.stepsDone = stepsDone;
    this.schedule();
  }

  reset(): void {
    this.stepsDone = 0;
    this.activeSeconds = 0;
    this.stepsPerEpoch = 1;
    this.schedule();
  }

  begin(): void {
    this.running = true;
    this.speed = [];
    this.segmentStart = performance.now();
    clearInterval(this.clock);
    this.clock = setInterval(() => this.schedule(), 1000);
    this.schedule();
  }

  end(): void {
    if (this.segmentStart !== undefined) this.activeSeconds += (performance.now() - this.segmentStart) / 1000;
    this.segmentStart = undefined;
    this.running = false;
    clearInterval(this.clock);
    this.schedule();
  }

  get seconds(): number {
    return this.activeSeconds + (this.segmentStart === undefined ? 0 : (performance.now() - this.segmentStart) / 1000);
  }

  chunk(firstStep: number, steps: number, samples: number): void {
    this.stepsDone = firstStep + steps;
    const now = performance.now();
    this.speed.push({ time: now, steps, samples });
    while (this.speed.length > 2 && now - this.speed[0]!.time > SPEED_WINDOW_MS) this.speed.shift();
    // No frame of its own: the once-a-second clock shows it, so the page does one small update a second while training.
  }

  schedule(): void {
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const { el } = this;
    if (this.stepsDone === 0 && !this.running) {
      for (const e of [el.epoch, el.step, el.loss, el.speed, el.elapsed, el.eta]) setText(e, '–');
      setProgress(el.progress, 0);
      return;
    }
    const perEpoch = this.stepsPerEpoch;
    const epochs = this.epochs;
    const total = epochs * perEpoch;
    const done = this.stepsDone;
    // At an epoch's end this is still that epoch (step 6 / 6), not the next one's step 0.
    const epochIndex = Math.min(Math.max(0, Math.ceil(done / perEpoch) - 1), epochs - 1);
    setText(el.epoch, `${epochIndex + 1} / ${epochs}`);
    setText(el.step, `${done - epochIndex * perEpoch} / ${perEpoch}`);
    setText(el.loss, Number.isFinite(this.loss) ? this.loss.toFixed(3) : '–');
    const window = this.speed;
    let stepsPerSecond = NaN;
    if (window.length >= 2) {
      const seconds = (window[window.length - 1]!.time - window[0]!.time) / 1000;
      const later = window.slice(1);
      stepsPerSecond = later.reduce((a, w) => a + w.steps, 0) / seconds;
      setText(el.speed, formatCount(later.reduce((a, w) => a + w.samples, 0) / seconds));
    } else if (this.running) {
      setText(el.speed, '…');
    }
    setText(el.elapsed, formatDuration(this.seconds));
    const remaining = total - done;
    setText(el.eta, remaining <= 0 ? 'done' : this.running && stepsPerSecond > 0 ? formatDuration(remaining / stepsPerSecond) : '–');
    setProgress(el.progress, done / total);
  }
}
