/**
 * "Draw a digit": the pad, what the model sees (28×28), and the class probabilities from the
 * worker. Pad changes are coalesced: at most one preprocessing and one prediction at a time, the
 * latest drawing wins.
 */
import { MNIST_SIDE, preprocessDigit } from './draw.ts';
import { DrawingPad } from './pad.ts';
import { byId, ProbabilityBars } from './ui.ts';

const nextFrame = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));

export interface Predictor {
  /** why there are no probabilities now (no run, no device), or undefined when predict() may be called */
  unavailable(): string | undefined;
  predict(pixels: Float32Array): Promise<Float32Array | undefined>;
  failed(error: unknown): void;
}

export class DrawPanel {
  private readonly probsBox = byId('probs');
  private readonly seen = byId<HTMLCanvasElement>('seen');
  private readonly probs = new ProbabilityBars(this.probsBox, byId('verdict'));
  readonly pad = new DrawingPad(byId<HTMLCanvasElement>('pad'), () => this.request());
  private dirty = false;
  /** the prediction in progress, if any */
  running: Promise<void> | undefined;

  constructor(private readonly predictor: Predictor) {
    byId('clear').addEventListener('click', () => this.pad.clear());
  }

  request(): void {
    this.dirty = true;
    // `data-busy` tells whoever watches (the browser test) that newer probabilities are coming.
    this.probsBox.dataset.busy = 'true';
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      delete this.probsBox.dataset.busy;
    });
  }

  private async loop(): Promise<void> {
    while (this.dirty) {
      await nextFrame();
      this.dirty = false;
      const pixels = this.pad.isEmpty ? null : preprocessDigit(this.pad.ink());
      this.paintSeen(pixels);
      const why = this.predictor.unavailable();
      if (!pixels) this.probs.show(undefined, 'Draw a digit in the box.');
      else if (why) this.probs.show(undefined, why);
      else {
        try {
          const probs = await this.predictor.predict(pixels);
          if (probs) this.probs.show(probs);
        } catch (error) {
          this.predictor.failed(error);
        }
      }
    }
  }

  private paintSeen(pixels: Float32Array | null): void {
    const context = this.seen.getContext('2d')!;
    const image = context.createImageData(MNIST_SIDE, MNIST_SIDE);
    if (pixels) for (let i = 0; i < pixels.length; i++) image.data[i * 4 + 3] = Math.round(pixels[i]! * 255);
    context.putImageData(image, 0, 0);
  }
}
