/**
 * A grid of test digits with the model's predictions; mistakes are highlighted. The images are
 * painted once per selection, and only captions and classes change when predictions come in.
 */
import type { Dataset as MnistSplit } from '../src/index.ts';
import { MNIST_SIDE } from './draw.ts';

const GRID_SIZE = 48;

interface Tile {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly caption: HTMLElement;
}

export type GridMode = 'sample' | 'mistakes';

export class DigitGrid {
  private readonly tiles: Tile[] = [];
  private shown: number[] = [];
  private split: MnistSplit | undefined;
  private predicted: Uint32Array | undefined;
  mode: GridMode = 'sample';

  constructor(
    private readonly container: HTMLElement,
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

  /** New test data: shows an even spread of it, without predictions. */
  setData(split: MnistSplit): void {
    this.split = split;
    this.predicted = undefined;
    this.render();
  }

  /** Predicted classes of the whole test split (from trainer.predictions() after an evaluation), or none. */
  setPredictions(predicted: Uint32Array | undefined): void {
    this.predicted = predicted;
    this.render();
  }

  setMode(mode: GridMode): void {
    this.mode = mode;
    this.render();
  }

  private select(): number[] {
    const split = this.split!;
    if (this.mode === 'mistakes' && this.predicted) {
      const wrong: number[] = [];
      for (let i = 0; i < this.predicted.length && wrong.length < GRID_SIZE; i++) {
        if (this.predicted[i] !== split.labels[i]) wrong.push(i);
      }
      return wrong;
    }
    const n = Math.min(GRID_SIZE, split.count);
    return Array.from({ length: n }, (_, i) => Math.floor((i * split.count) / n));
  }

  private render(): void {
    const split = this.split;
    if (!split) return;
    const indices = this.select();
    const predicted = this.predicted;
    let wrong = 0;
    for (const [t, tile] of this.tiles.entries()) {
      const index = indices[t];
      tile.root.hidden = index === undefined;
      if (index === undefined) continue;
      if (this.shown[t] !== index) paint(tile.canvas, split, index);
      const label = split.labels[index]!;
      const guess = predicted?.[index];
      const isWrong = guess !== undefined && guess !== label;
      wrong += isWrong ? 1 : 0;
      tile.root.classList.toggle('wrong', isWrong);
      tile.root.classList.toggle('right', guess !== undefined && !isWrong);
      tile.caption.textContent = guess === undefined ? `${label}` : isWrong ? `${guess} (is ${label})` : `${guess}`;
      tile.root.title = `test image ${index}: label ${label}${guess === undefined ? '' : `, predicted ${guess}`}`;
    }
    this.shown = indices;
    if (!predicted) {
      this.summary.textContent = `${indices.length} test digits with their labels; predictions appear after each epoch.`;
    } else if (this.mode === 'mistakes') {
      let total = 0;
      for (let i = 0; i < predicted.length; i++) total += predicted[i] !== split.labels[i] ? 1 : 0;
      this.summary.textContent = total
        ? `${Math.min(total, GRID_SIZE)} of the ${total.toLocaleString('en-US')} misclassified test digits.`
        : 'No test digit is misclassified.';
    } else {
      this.summary.textContent = `${wrong} of these ${indices.length} test digits misclassified.`;
    }
  }
}

function paint(canvas: HTMLCanvasElement, split: MnistSplit, index: number): void {
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(MNIST_SIDE, MNIST_SIDE);
  const pixels = split.features.subarray(index * MNIST_SIDE * MNIST_SIDE, (index + 1) * MNIST_SIDE * MNIST_SIDE);
  for (let i = 0; i < pixels.length; i++) {
    // Dark ink on a light tile: the CSS background shows through the transparent pixels.
    image.data[i * 4 + 3] = pixels[i]!;
  }
  context.putImageData(image, 0, 0);
}
