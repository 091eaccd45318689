/**
 * Test accuracy per epoch: the current run as a solid line with dots, other runs overlaid dashed
 * in their colours. A small canvas, redrawn at most once per frame.
 */
import type { Overlay } from './chart.ts';

const PAD = { left: 40, right: 12, top: 10, bottom: 22 };

export class AccuracyChart {
  private points: { epoch: number; accuracy: number }[] = [];
  private overlays: readonly Overlay[] = [];
  private epochs = 1;
  private frame = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {
    new ResizeObserver(() => this.invalidate()).observe(canvas);
  }

  setPlan(epochs: number): void {
    this.epochs = Math.max(1, epochs);
    this.invalidate();
  }

  set(points: readonly { epoch: number; accuracy: number }[]): void {
    this.points = [...points];
    this.invalidate();
  }

  setOverlays(overlays: readonly Overlay[]): void {
    this.overlays = overlays;
    this.canvas.dataset.overlays = String(overlays.length);
    this.invalidate();
  }

  private invalidate(): void {
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    const { canvas } = this;
    const g = canvas.getContext('2d');
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (!g || !w || !h) return;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const style = getComputedStyle(canvas);
    const color = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
    const all = [...this.points.map((p) => p.accuracy), ...this.overlays.flatMap((o) => o.tests.map((t) => t.accuracy))];
    const epochs = Math.max(this.epochs, ...this.overlays.map((o) => o.tests.length), this.points.length);
    // From a round tenth under the lowest accuracy up to 1, so late epochs are told apart.
    const low = all.length ? Math.max(0, Math.floor(Math.min(...all) * 10 - 0.5) / 10) : 0;
    const plotW = w - PAD.left - PAD.right;
    const plotH = h - PAD.top - PAD.bottom;
    const x = (epoch: number) => PAD.left + (epoch / epochs) * plotW;
    const y = (a: number) => PAD.top + plotH - ((a - low) / (1 - low)) * plotH;
    g.font = '11px system-ui, sans-serif';
    g.strokeStyle = color('--chart-grid', 'rgba(0,0,0,0.08)');
    g.fillStyle = color('--chart-text', '#667');
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const a = low + ((1 - low) * i) / 4;
      const py = Math.round(y(a)) + 0.5;
      g.beginPath();
      g.moveTo(PAD.left, py);
      g.lineTo(PAD.left + plotW, py);
      g.stroke();
      g.fillText(`${Math.round(a * 100)}%`, PAD.left - 6, py);
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const every = Math.max(1, Math.ceil(epochs / Math.max(1, Math.floor(plotW / 36))));
    for (let e = every; e <= epochs; e += every) g.fillText(String(e), x(e), PAD.top + plotH + 5);
    const line = (points: { epoch: number; accuracy: number }[], stroke: string, dashed: boolean) => {
      g.strokeStyle = stroke;
      g.fillStyle = stroke;
      g.lineWidth = dashed ? 1.5 : 2;
      g.setLineDash(dashed ? [5, 3] : []);
      g.beginPath();
      for (const p of points) g.lineTo(x(p.epoch), y(p.accuracy));
      g.stroke();
      g.setLineDash([]);
      for (const p of points) {
        g.beginPath();
        g.arc(x(p.epoch), y(p.accuracy), dashed ? 2.5 : 3.5, 0, Math.PI * 2);
        g.fill();
      }
    };
    for (const o of this.overlays)
      line(
        [...o.tests].map((t, i) => ({ epoch: i + 1, accuracy: t.accuracy })),
        o.color,
        true,
      );
    line(this.points, color('--chart-test', '#e0703b'), false);
    if (!all.length) {
      g.fillStyle = color('--chart-text', '#667');
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText('Test accuracy after each epoch.', PAD.left + plotW / 2, PAD.top + plotH / 2);
    }
  }
}
