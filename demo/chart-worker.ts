/**
 * The charts' own worker: it owns the loss and accuracy canvases (handed over with
 * `transferControlToOffscreen()`), keeps what they show, and redraws them at most once per
 * animation frame. Drawing a curve of thousands of steps, and the canvas's frame, then cost the
 * page's main thread nothing: an OffscreenCanvas commits its frames to the compositor directly.
 * The page (charts.ts) sends what changed and the canvases' sizes; the PNG export is made here.
 */
import { AccuracyChart } from './acc-chart.ts';
import { LossChart, type Overlay, type Palette, type Surface } from './chart.ts';

export type ChartName = 'loss' | 'acc';

/** Page → chart worker. */
export type ChartCommand =
  | { readonly type: 'init'; readonly loss: OffscreenCanvas; readonly acc: OffscreenCanvas }
  /** a canvas's box: CSS pixels, and device pixels (the backing store) */
  | {
      readonly type: 'size';
      readonly chart: ChartName;
      readonly width: number;
      readonly height: number;
      readonly pixelWidth: number;
      readonly pixelHeight: number;
    }
  | { readonly type: 'palette'; readonly palette: Palette }
  | { readonly type: 'loss-plan'; readonly totalSteps: number; readonly stepsPerEpoch: number }
  | { readonly type: 'push'; readonly firstStep: number; readonly losses: Float32Array }
  | { readonly type: 'test'; readonly step: number; readonly loss: number }
  | { readonly type: 'clear' }
  | { readonly type: 'acc-plan'; readonly epochs: number }
  | { readonly type: 'accuracy'; readonly points: readonly { epoch: number; accuracy: number }[] }
  | { readonly type: 'overlays'; readonly chart: ChartName; readonly overlays: readonly Overlay[] }
  | { readonly type: 'png'; readonly id: number; readonly background: string };

/** Chart worker → page: the answer to a 'png' command. */
export type ChartReply = { readonly id: number; readonly blob: Blob } | { readonly id: number; readonly error: string };

interface Canvas {
  canvas: OffscreenCanvas | undefined;
  width: number;
  height: number;
}

const loss = new LossChart();
const acc = new AccuracyChart();
const canvases: Record<ChartName, Canvas> = {
  loss: { canvas: undefined, width: 0, height: 0 },
  acc: { canvas: undefined, width: 0, height: 0 },
};
let palette: Palette | undefined;
const dirty = new Set<ChartName>();
let frame = 0;

function invalidate(...charts: ChartName[]): void {
  for (const c of charts) dirty.add(c);
  frame ||= requestAnimationFrame(() => {
    frame = 0;
    for (const c of dirty) draw(c);
    dirty.clear();
  });
}

function draw(name: ChartName): void {
  const { canvas, width, height } = canvases[name];
  const g = canvas?.getContext('2d');
  if (!canvas || !g || !palette || !width || !height) return;
  g.setTransform(canvas.width / width, 0, 0, canvas.height / height, 0, 0);
  const surface: Surface = { g, width, height, palette };
  if (name === 'loss') loss.draw(surface);
  else acc.draw(surface);
}

/** Both charts stacked, on the page's background colour, as one PNG. */
async function png(background: string): Promise<Blob> {
  const drawn = [canvases.loss.canvas, canvases.acc.canvas].filter((c): c is OffscreenCanvas => Boolean(c?.width && c.height));
  if (drawn.length < 2) throw new Error('the charts are not drawn yet');
  // What is shown now, not a frame that is still to come.
  if (frame) {
    cancelAnimationFrame(frame);
    frame = 0;
    for (const c of dirty) draw(c);
    dirty.clear();
  }
  const out = new OffscreenCanvas(
    Math.max(...drawn.map((c) => c.width)),
    drawn.reduce((a, c) => a + c.height, 0),
  );
  const g = out.getContext('2d')!;
  g.fillStyle = background;
  g.fillRect(0, 0, out.width, out.height);
  let y = 0;
  for (const c of drawn) {
    g.drawImage(c, 0, y);
    y += c.height;
  }
  return out.convertToBlob({ type: 'image/png' });
}

function handle(c: ChartCommand): void {
  switch (c.type) {
    case 'init':
      canvases.loss.canvas = c.loss;
      canvases.acc.canvas = c.acc;
      return invalidate('loss', 'acc');
    case 'size': {
      const target = canvases[c.chart];
      target.width = c.width;
      target.height = c.height;
      // Setting the size clears the canvas: only when it changed, and it is redrawn in the same frame.
      if (target.canvas && (target.canvas.width !== c.pixelWidth || target.canvas.height !== c.pixelHeight)) {
        target.canvas.width = c.pixelWidth;
        target.canvas.height = c.pixelHeight;
      }
      return invalidate(c.chart);
    }
    case 'palette':
      palette = c.palette;
      return invalidate('loss', 'acc');
    case 'loss-plan':
      loss.setPlan(c.totalSteps, c.stepsPerEpoch);
      return invalidate('loss');
    case 'push':
      loss.series.push(c.firstStep, c.losses);
      return invalidate('loss');
    case 'test':
      loss.series.markTest(c.step, c.loss);
      return invalidate('loss');
    case 'clear':
      loss.series.clear();
      return invalidate('loss');
    case 'acc-plan':
      acc.setPlan(c.epochs);
      return invalidate('acc');
    case 'accuracy':
      acc.set(c.points);
      return invalidate('acc');
    case 'overlays':
      (c.chart === 'loss' ? loss : acc).setOverlays(c.overlays);
      return invalidate(c.chart);
    case 'png':
      png(c.background).then(
        (blob) => post({ id: c.id, blob }),
        (error: unknown) => post({ id: c.id, error: error instanceof Error ? error.message : String(error) }),
      );
  }
}

function post(reply: ChartReply): void {
  (self as unknown as Worker).postMessage(reply);
}

self.addEventListener('message', (event: MessageEvent<ChartCommand>) => handle(event.data));
