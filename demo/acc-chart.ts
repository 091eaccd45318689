/**
 * Test accuracy per epoch: the current run as a solid line with dots, other runs overlaid dashed
 * in their colours. Drawn without the DOM, by the chart worker on its OffscreenCanvas.
 */
import type { Overlay, Surface } from './chart.ts';

const PAD = { left: 40, right: 12, top: 10, bottom: 22 };

export class AccuracyChart {
  private points: { epoch: number; accuracy: number }[] = [];
  private overlays: readonly Overlay[] = [];
  private epochs = 1;

  setPlan(epochs: number): void {
    this.epochs = Math.max(1, epochs);
  }

  set(points: readonly { epoch: number; accuracy: number }[]): void {
    this.points = [...points];
  }

  setOverlays(overlays: readonly Overlay[]): void {
    this.overlays = overlays;
  }

  /** Draws the whole chart (the surface's transform already maps CSS pixels). */
  draw({ g, width: w, height: h, palette }: Surface): void {
    g.clearRect(0, 0, w, h);
    const all = [...this.points.map((p) => p.accuracy), ...this.overlays.flatMap((o) => o.tests.map((t) => t.accuracy))];
    const epochs = Math.max(this.epochs, ...this.overlays.map((o) => o.tests.length), this.points.length);
    // From a round tenth under the lowest accuracy up to 1, so late epochs are told apart.
    const low = all.length ? Math.max(0, Math.floor(Math.min(...all) * 10 - 0.5) / 10) : 0;
    const plotW = w - PAD.left - PAD.right;
    const plotH = h - PAD.top - PAD.bottom;
    const x = (epoch: number) => PAD.left + (epoch / epochs) * plotW;
    const y = (a: number) => PAD.top + plotH - ((a - low) / (1 - low)) * plotH;
    g.font = '11px system-ui, sans-serif';
    g.strokeStyle = palette.grid;
    g.fillStyle = palette.text;
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
    line(this.points, palette.test, false);
    if (!all.length) {
      g.fillStyle = palette.text;
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText('Test accuracy after each epoch.', PAD.left + plotW / 2, PAD.top + plotH / 2);
    }
  }
}
