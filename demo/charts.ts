/**
 * The page's side of the charts: the canvases are handed to the chart worker (chart-worker.ts),
 * which draws them; this side sends what changed, the canvases' sizes (from a ResizeObserver, so
 * no layout is ever forced) and the colours of the CSS theme. The loss chart keeps its own copy of
 * the losses (the figures, the CSV, the runs compared) and says on the element how many steps it
 * shows (`data-points`, `data-overlays`: what the page test reads).
 */
import type { ChartCommand, ChartName, ChartReply } from './chart-worker.ts';
import { LossSeries, type Overlay, type Palette } from './chart.ts';

function readPalette(element: HTMLElement): Palette {
  const style = getComputedStyle(element);
  const v = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    raw: v('--chart-raw', 'rgba(80, 120, 220, 0.25)'),
    line: v('--chart-line', '#3b6fe0'),
    test: v('--chart-test', '#e0703b'),
    grid: v('--chart-grid', 'rgba(0, 0, 0, 0.08)'),
    text: v('--chart-text', '#667'),
  };
}

class ChartWorker {
  private readonly worker = new Worker(new URL('./chart-worker.ts', import.meta.url), { type: 'module', name: 'charts' });
  private readonly pending = new Map<number, { resolve(b: Blob): void; reject(e: Error): void }>();
  private next = 1;

  constructor() {
    this.worker.addEventListener('message', (event: MessageEvent<ChartReply>) => {
      const reply = event.data;
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if ('blob' in reply) waiting?.resolve(reply.blob);
      else waiting?.reject(new Error(reply.error));
    });
  }

  send(command: ChartCommand, transfer: Transferable[] = []): void {
    this.worker.postMessage(command, transfer);
  }

  png(background: string): Promise<Blob> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ type: 'png', id, background });
    });
  }
}

/** The loss chart as the page sees it: the same calls as a chart drawn here, the drawing done there. */
export class LossChartView {
  private readonly series = new LossSeries();

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly worker: ChartWorker,
  ) {
    this.showPoints();
  }

  /** The x axis spans the planned run, so the curve grows from left to right. */
  setPlan(totalSteps: number, stepsPerEpoch: number): void {
    this.worker.send({ type: 'loss-plan', totalSteps, stepsPerEpoch });
  }

  /** Losses of consecutive steps starting at global step `firstStep` (an earlier start cuts the curve back). */
  push(firstStep: number, losses: Float32Array): void {
    this.series.push(firstStep, losses);
    this.worker.send({ type: 'push', firstStep, losses });
    this.showPoints();
  }

  /** The test loss measured after `step` steps (an epoch's end). */
  markTest(step: number, loss: number): void {
    this.series.markTest(step, loss);
    this.worker.send({ type: 'test', step, loss });
  }

  clear(): void {
    this.series.clear();
    this.worker.send({ type: 'clear' });
    this.showPoints();
  }

  setOverlays(overlays: readonly Overlay[]): void {
    this.canvas.dataset.overlays = String(overlays.length);
    this.worker.send({ type: 'overlays', chart: 'loss', overlays });
  }

  /** The raw per-step losses so far (a copy). */
  get losses(): Float32Array {
    return this.series.losses;
  }

  get points(): number {
    return this.series.count;
  }

  get lastSmoothed(): number {
    return this.series.lastSmoothed;
  }

  private showPoints(): void {
    // The step count is a test hook (and says what the chart shows): always current.
    this.canvas.dataset.points = String(this.series.count);
  }
}

export class AccuracyChartView {
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly worker: ChartWorker,
  ) {}

  setPlan(epochs: number): void {
    this.worker.send({ type: 'acc-plan', epochs });
  }

  set(points: readonly { epoch: number; accuracy: number }[]): void {
    this.worker.send({ type: 'accuracy', points: points.map(({ epoch, accuracy }) => ({ epoch, accuracy })) });
  }

  setOverlays(overlays: readonly Overlay[]): void {
    this.canvas.dataset.overlays = String(overlays.length);
    this.worker.send({ type: 'overlays', chart: 'acc', overlays });
  }
}

/** Both charts, drawn by one worker. */
export class Charts {
  private readonly worker = new ChartWorker();
  readonly loss: LossChartView;
  readonly acc: AccuracyChartView;

  constructor(lossCanvas: HTMLCanvasElement, accCanvas: HTMLCanvasElement) {
    this.loss = new LossChartView(lossCanvas, this.worker);
    this.acc = new AccuracyChartView(accCanvas, this.worker);
    const loss = lossCanvas.transferControlToOffscreen();
    const acc = accCanvas.transferControlToOffscreen();
    this.worker.send({ type: 'init', loss, acc }, [loss, acc]);
    const names = new Map<Element, ChartName>([
      [lossCanvas, 'loss'],
      [accCanvas, 'acc'],
    ]);
    let themed = false;
    // After layout, so reading the sizes (and the colours, once) forces nothing.
    const observer = new ResizeObserver((entries) => {
      if (!themed) {
        themed = true;
        this.worker.send({ type: 'palette', palette: readPalette(lossCanvas) });
      }
      for (const e of entries) {
        const css = e.contentBoxSize[0];
        if (!css) continue;
        const device = e.devicePixelContentBoxSize?.[0];
        const dpr = window.devicePixelRatio || 1;
        this.worker.send({
          type: 'size',
          chart: names.get(e.target)!,
          width: css.inlineSize,
          height: css.blockSize,
          pixelWidth: device ? device.inlineSize : Math.round(css.inlineSize * dpr),
          pixelHeight: device ? device.blockSize : Math.round(css.blockSize * dpr),
        });
      }
    });
    // The device-pixel box also changes with the zoom or the screen's pixel ratio: the chart stays sharp.
    for (const canvas of names.keys()) observer.observe(canvas, { box: 'device-pixel-content-box' });
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () =>
      this.worker.send({ type: 'palette', palette: readPalette(lossCanvas) }),
    );
  }

  /** Both charts stacked, as one PNG, on the page's background colour. */
  png(): Promise<Blob> {
    return this.worker.png(getComputedStyle(document.body).backgroundColor || '#fff');
  }
}
