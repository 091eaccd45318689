/**
 * The training-loss chart, hand-drawn on a 2D canvas, no dependency. `LossSeries` keeps the
 * per-step losses (raw and smoothed) as they arrive in chunks: the page keeps one for its figures
 * and exports, the chart worker (chart-worker.ts) one to draw. `LossChart` draws without touching
 * the DOM, on the worker's OffscreenCanvas: a light line of the raw per-step loss (its range per
 * pixel column once steps outnumber pixels) under a smoothed line, with test losses as dots at
 * the end of each epoch, and other runs overlaid (their smoothed line, dashed, in their colour).
 */
/** Another run drawn under the current one. */
export interface Overlay {
  readonly label: string;
  readonly color: string;
  readonly losses: Float32Array;
  readonly tests: readonly { step: number; loss: number; accuracy: number }[];
}

/** The chart's smoothed line of a loss history (a debiased EMA, as TensorBoard's). */
export function smoothLosses(losses: Float32Array): Float32Array {
  const out = new Float32Array(losses.length);
  let ema = 0;
  let weight = 0;
  for (let i = 0; i < losses.length; i++) {
    ema = SMOOTHING * ema + (1 - SMOOTHING) * losses[i]!;
    weight = SMOOTHING * weight + (1 - SMOOTHING);
    out[i] = ema / weight;
  }
  return out;
}

/** TensorBoard-style smoothing weight for the line (the band shows the raw values). */
const SMOOTHING = 0.9;
const PAD = { left: 40, right: 12, top: 12, bottom: 26 };

/** The charts' colours: CSS custom properties the page reads and sends to the worker. */
export interface Palette {
  readonly raw: string;
  readonly line: string;
  readonly test: string;
  readonly grid: string;
  readonly text: string;
}

/** Where a chart draws: its context (scaled to CSS pixels), its size in CSS pixels, its colours. */
export interface Surface {
  readonly g: OffscreenCanvasRenderingContext2D;
  readonly width: number;
  readonly height: number;
  readonly palette: Palette;
}

/** Tick values from 0 to at least `max`: multiples of 1, 2 or 5 times a power of ten, about `count` of them. */
function ticks(max: number, count: number): number[] {
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? rough;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toFixed(10)));
}

/** Per-step losses and their smoothed line, growing chunk by chunk; `truncate` goes back to an earlier step. */
export class LossSeries {
  raw = new Float32Array(4096);
  smooth = new Float32Array(4096);
  count = 0;
  private ema = 0;
  private emaWeight = 0;
  readonly tests: { step: number; loss: number }[] = [];

  /** Losses of consecutive steps starting at global step `firstStep`. */
  push(firstStep: number, losses: Float32Array): void {
    if (firstStep < this.count) this.truncate(firstStep);
    const need = this.count + losses.length;
    if (need > this.raw.length) {
      const size = Math.max(need, this.raw.length * 2);
      const grow = (a: Float32Array) => {
        const b = new Float32Array(size);
        b.set(a.subarray(0, this.count));
        return b;
      };
      this.raw = grow(this.raw);
      this.smooth = grow(this.smooth);
    }
    for (const loss of losses) {
      // Debiased EMA, so the line starts at the first loss rather than at zero.
      this.ema = SMOOTHING * this.ema + (1 - SMOOTHING) * loss;
      this.emaWeight = SMOOTHING * this.emaWeight + (1 - SMOOTHING);
      this.raw[this.count] = loss;
      this.smooth[this.count] = this.ema / this.emaWeight;
      this.count++;
    }
  }

  /** The test loss measured after `step` steps (an epoch's end). */
  markTest(step: number, loss: number): void {
    if (Number.isFinite(loss)) this.tests.push({ step, loss });
  }

  /** Forgets steps from `step` on (training goes on from an earlier point, after a restart). */
  truncate(step: number): void {
    this.count = Math.min(this.count, step);
    let ema = 0;
    let weight = 0;
    for (let i = 0; i < this.count; i++) {
      ema = SMOOTHING * ema + (1 - SMOOTHING) * this.raw[i]!;
      weight = SMOOTHING * weight + (1 - SMOOTHING);
    }
    this.ema = ema;
    this.emaWeight = weight;
    while (this.tests.length && this.tests[this.tests.length - 1]!.step > step) this.tests.pop();
  }

  clear(): void {
    this.truncate(0);
    this.tests.length = 0;
  }

  /** The raw per-step losses so far (a copy). */
  get losses(): Float32Array {
    return this.raw.slice(0, this.count);
  }

  get lastSmoothed(): number {
    return this.count ? this.smooth[this.count - 1]! : NaN;
  }
}

export class LossChart {
  readonly series = new LossSeries();
  private totalSteps = 1;
  private stepsPerEpoch = 1;
  private overlays: { overlay: Overlay; smooth: Float32Array }[] = [];

  /** The x axis spans the planned run, so the curve grows from left to right. */
  setPlan(totalSteps: number, stepsPerEpoch: number): void {
    this.totalSteps = Math.max(1, totalSteps);
    this.stepsPerEpoch = Math.max(1, stepsPerEpoch);
  }

  /** Other runs to draw under this one (replaces the previous set). */
  setOverlays(overlays: readonly Overlay[]): void {
    this.overlays = overlays.map((overlay) => ({ overlay, smooth: smoothLosses(overlay.losses) }));
  }

  /** Draws the whole chart (the surface's transform already maps CSS pixels). */
  draw({ g, width: cssWidth, height: cssHeight, palette: colors }: Surface): void {
    const { raw: rawLosses, smooth: smoothLine, count, tests } = this.series;
    g.clearRect(0, 0, cssWidth, cssHeight);
    const plotW = cssWidth - PAD.left - PAD.right;
    const plotH = cssHeight - PAD.top - PAD.bottom;
    const total = Math.max(this.totalSteps, count, ...this.overlays.map((o) => o.smooth.length));

    // The y range follows the smoothed curves (raw spikes are clipped), never below 0.5.
    let top = 0.5;
    for (let i = 0; i < count; i++) top = Math.max(top, smoothLine[i]!);
    for (const o of this.overlays) for (const v of o.smooth) if (Number.isFinite(v)) top = Math.max(top, v);
    for (const t of tests) top = Math.max(top, t.loss);
    const yTicks = ticks(top * 1.08, 4);
    const yMax = yTicks[yTicks.length - 1]!;
    const x = (step: number) => PAD.left + (step / total) * plotW;
    const y = (loss: number) => PAD.top + plotH - (Math.min(loss, yMax) / yMax) * plotH;

    g.font = '11px system-ui, sans-serif';
    g.lineWidth = 1;
    g.strokeStyle = colors.grid;
    g.fillStyle = colors.text;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (const t of yTicks) {
      const py = Math.round(y(t)) + 0.5;
      g.beginPath();
      g.moveTo(PAD.left, py);
      g.lineTo(PAD.left + plotW, py);
      g.stroke();
      g.fillText(t.toFixed(yMax < 2 ? 1 : 0), PAD.left - 6, py);
    }
    // Epoch boundaries, labelled by epoch number (thinned out when there are many).
    const epochs = Math.ceil(total / this.stepsPerEpoch);
    const every = Math.max(1, Math.ceil(epochs / Math.max(1, Math.floor(plotW / 48))));
    g.textAlign = 'center';
    g.textBaseline = 'top';
    for (let e = 1; e <= epochs; e++) {
      const px = Math.round(x(Math.min(e * this.stepsPerEpoch, total))) + 0.5;
      g.beginPath();
      g.moveTo(px, PAD.top);
      g.lineTo(px, PAD.top + plotH);
      g.stroke();
      if (e % every === 0 || e === epochs) g.fillText(`${e}`, px, PAD.top + plotH + 6);
    }
    g.textAlign = 'left';
    g.fillText('epoch', PAD.left, PAD.top + plotH + 6);

    for (const { overlay, smooth } of this.overlays) {
      const line = new Path2D();
      const every = Math.max(1, Math.floor(smooth.length / Math.max(1, plotW)));
      for (let i = 0; i < smooth.length; i += every) line.lineTo(x(i + 1), y(smooth[i]!));
      g.lineWidth = 1.5;
      g.strokeStyle = overlay.color;
      g.setLineDash([5, 3]);
      g.stroke(line);
      g.setLineDash([]);
    }

    if (count > 0) {
      // Loss of step i is plotted where step i ends. Few points: every one; more points than
      // pixels: per pixel column its first, lowest, highest and last value, so spikes survive.
      const columns = Math.max(1, Math.round(plotW));
      const raw = new Path2D();
      const smooth = new Path2D();
      if (count <= columns) {
        for (let i = 0; i < count; i++) {
          const px = x(i + 1);
          raw.lineTo(px, y(rawLosses[i]!));
          smooth.lineTo(px, y(smoothLine[i]!));
        }
      } else {
        const perColumn = total / columns;
        for (let c = 0; c * perColumn < count; c++) {
          const from = Math.floor(c * perColumn);
          const to = Math.min(count, Math.max(from + 1, Math.floor((c + 1) * perColumn)));
          let lo = Infinity;
          let hi = -Infinity;
          for (let i = from; i < to; i++) {
            lo = Math.min(lo, rawLosses[i]!);
            hi = Math.max(hi, rawLosses[i]!);
          }
          const px = PAD.left + c + 0.5;
          raw.lineTo(px, y(rawLosses[from]!));
          raw.lineTo(px, y(lo));
          raw.lineTo(px, y(hi));
          raw.lineTo(px, y(rawLosses[to - 1]!));
          smooth.lineTo(px, y(smoothLine[to - 1]!));
        }
      }
      g.lineJoin = 'round';
      g.lineWidth = 1;
      g.strokeStyle = colors.raw;
      g.stroke(raw);
      g.lineWidth = 2;
      g.strokeStyle = colors.line;
      g.stroke(smooth);
    }

    if (count === 0 && this.overlays.length === 0) {
      g.fillStyle = colors.text;
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.font = '13px system-ui, sans-serif';
      g.fillText('The training loss appears here, step by step.', PAD.left + plotW / 2, PAD.top + plotH / 2);
    }

    g.fillStyle = colors.test;
    for (const t of tests) {
      g.beginPath();
      g.arc(x(t.step), y(t.loss), 4, 0, Math.PI * 2);
      g.fill();
    }
  }
}
