/**
 * The drawing pad: mouse, touch and pen through Pointer Events. Strokes are opaque on a
 * transparent canvas, so the alpha channel is the ink (see draw.ts: inkFromRgba).
 */
import { inkFromRgba, type InkImage } from './draw.ts';

/** The canvas is drawn at this fixed resolution whatever its CSS size; pointer positions are scaled to it. */
export const PAD_SIDE = 280;
/** About MNIST's stroke width once the digit is scaled into its 20-pixel box. */
const STROKE_WIDTH = 20;

export class DrawingPad {
  private readonly context: CanvasRenderingContext2D;
  private last: { x: number; y: number } | undefined;
  private pointer: number | undefined;
  private inked = false;

  /** `onInk` is called after every change (often: coalesce work to one per frame). */
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onInk: () => void,
  ) {
    canvas.width = PAD_SIDE;
    canvas.height = PAD_SIDE;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('no 2D canvas context');
    this.context = context;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const type of ['pointerup', 'pointercancel', 'lostpointercapture'] as const) {
      canvas.addEventListener(type, (e) => {
        if (e.pointerId === this.pointer) this.pointer = undefined;
      });
    }
  }

  get isEmpty(): boolean {
    return !this.inked;
  }

  clear(): void {
    this.context.clearRect(0, 0, PAD_SIDE, PAD_SIDE);
    this.inked = false;
    this.onInk();
  }

  ink(): InkImage {
    return inkFromRgba(this.context.getImageData(0, 0, PAD_SIDE, PAD_SIDE).data, PAD_SIDE, PAD_SIDE);
  }

  private position(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * PAD_SIDE, y: ((e.clientY - r.top) / r.height) * PAD_SIDE };
  }

  private down(e: PointerEvent): void {
    if (this.pointer !== undefined || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    this.pointer = e.pointerId;
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.position(e);
    this.stroke([this.last]);
  }

  private move(e: PointerEvent): void {
    if (e.pointerId !== this.pointer) return;
    e.preventDefault();
    // Coalesced events keep fast strokes smooth where the browser batches moves per frame.
    const events = e.getCoalescedEvents?.() ?? [];
    this.stroke((events.length ? events : [e]).map((p) => this.position(p)));
  }

  private stroke(points: { x: number; y: number }[]): void {
    const g = this.context;
    g.strokeStyle = '#000';
    g.fillStyle = '#000';
    g.lineWidth = STROKE_WIDTH;
    g.lineCap = 'round';
    g.lineJoin = 'round';
    g.beginPath();
    const from = this.last ?? points[0]!;
    g.moveTo(from.x, from.y);
    for (const p of points) g.lineTo(p.x, p.y);
    // A path of one point draws nothing: give a tap its dot.
    if (points.length === 1 && from === points[0]) g.lineTo(from.x + 0.01, from.y);
    g.stroke();
    this.last = points[points.length - 1];
    this.inked = true;
    this.onInk();
  }
}
