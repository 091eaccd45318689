/**
 * A grid of test digits with the model's predictions; mistakes are highlighted. The worker sends
 * only what is shown (a spread of the test set, and the first mistakes), never the test set; the
 * images are painted when they change, and only captions and classes follow new predictions.
 */
import { MNIST_SIDE } from './draw.ts';
import type { GridDigits, GridUpdate } from './protocol.ts';
import { formatCount } from './ui.ts';

const GRID_SIZE = 48;

interface Tile {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly caption: HTMLElement;
}

export type GridMode = 'sample' | 'mistakes';

export class DigitGrid {
  private readonly tiles: Tile[] = [];
  private shown: string[] = [];
  private update: GridUpdate | undefined;
  mode: GridMode = 'sample';

  constructor(
    container: HTMLElement,
    private readonly summary: HTMLElement,
  ) {
    for (let i = 0; i < GRID_SIZE; i++) {
      const root = document.createElement('figure');
      root.className = 'tile';
      const canvas = document.createElement('canvas');
      canvas.width = MNIST_SIDE;
      canvas.height = MNIST_SIDE;
      const caption = document.createElement('figcaption');
      root.append(canvas, caption);
      root.hidden = true;
      container.append(root);
      this.tiles.push({ root, canvas, caption });
    }
    summary.textContent = 'Test digits appear here once the data is loaded.';
  }

  /** New digits (and predictions, if the update has them). */
  set(update: GridUpdate): void {
    this.update = update;
    this.render();
  }

  /** Drops the predictions, keeping the digits. */
  clearPredictions(): void {
    if (!this.update) return;
    const { predicted: _p, ...sample } = this.update.sample;
    this.update = { sample, testCount: this.update.testCount };
    this.render();
  }

  setMode(mode: GridMode): void {
    this.mode = mode;
    this.render();
  }

  private render(): void {
    const u = this.update;
    if (!u) return;
    const set: GridDigits = this.mode === 'mistakes' && u.mistakes ? u.mistakes : u.sample;
    const predicted = set.predicted;
    let wrong = 0;
    for (const [t, tile] of this.tiles.entries()) {
      const index = set.indices[t];
      tile.root.hidden = index === undefined;
      if (index === undefined) continue;
      const key = `${index}`;
      if (this.shown[t] !== key) paint(tile.canvas, set.images.subarray(t * MNIST_SIDE * MNIST_SIDE, (t + 1) * MNIST_SIDE * MNIST_SIDE));
      this.shown[t] = key;
      const label = set.labels[t]!;
      const guess = predicted?.[t];
      const isWrong = guess !== undefined && guess !== label;
      wrong += isWrong ? 1 : 0;
      tile.root.classList.toggle('wrong', isWrong);
      tile.root.classList.toggle('right', guess !== undefined && !isWrong);
      tile.caption.textContent = guess === undefined ? `${label}` : isWrong ? `${guess} (is ${label})` : `${guess}`;
      tile.root.title = `test image ${index}: label ${label}${guess === undefined ? '' : `, predicted ${guess}`}`;
    }
    const n = set.indices.length;
    if (!predicted) {
      this.summary.textContent = `${n} test digits with their labels; predictions appear after each epoch.`;
    } else if (this.mode === 'mistakes') {
      const total = u.wrong ?? 0;
      this.summary.textContent = total
        ? `${Math.min(total, GRID_SIZE)} of the ${formatCount(total)} misclassified test digits.`
        : 'No test digit is misclassified.';
    } else {
      this.summary.textContent = `${wrong} of these ${n} test digits misclassified.`;
    }
  }
}

function paint(canvas: HTMLCanvasElement, pixels: Uint8Array): void {
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(MNIST_SIDE, MNIST_SIDE);
  // Dark ink on a light tile: the CSS background shows through the transparent pixels.
  for (let i = 0; i < pixels.length; i++) image.data[i * 4 + 3] = pixels[i]!;
  context.putImageData(image, 0, 0);
}
