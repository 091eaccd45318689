/**
 * MNIST-style preprocessing of a hand-drawn digit. Pure (no DOM), so it is unit-tested in
 * test/demo-preprocess.test.ts.
 *
 * What LeCun et al. did to the NIST digits, and so what the model expects:
 *  1. the digit's bounding box is scaled to fit a 20×20 box, keeping its aspect ratio,
 *     with anti-aliasing (grey levels at the edges);
 *  2. the result is placed in a 28×28 field so that its centre of mass is at the centre.
 * Both steps are done here as one resampling: each output pixel is the exact average of the
 * source area it covers (a box filter evaluated with a summed-area table), so downscaling a
 * 280-pixel drawing gives the same soft 2-pixel strokes as MNIST.
 */

/** Side of an MNIST image. */
export const MNIST_SIDE = 28;
/** Side of the box the digit's bounding box is scaled to fit. */
export const MNIST_BOX = 20;
/** Source pixels at or below this ink level do not count towards the bounding box (stray anti-aliasing). */
const BOX_THRESHOLD = 0.1;

/** A grey-level image: row-major, `width*height` values in [0, 1], 0 = background, 1 = full ink. */
export interface InkImage {
  readonly width: number;
  readonly height: number;
  readonly ink: ArrayLike<number>;
}

/** Ink from canvas pixels drawn as opaque strokes on a transparent canvas: the alpha channel. */
export function inkFromRgba(rgba: ArrayLike<number>, width: number, height: number): InkImage {
  if (rgba.length !== width * height * 4) throw new RangeError(`expected ${width * height * 4} RGBA bytes, got ${rgba.length}`);
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[i * 4 + 3]! / 255;
  return { width, height, ink };
}

interface Box {
  x0: number;
  y0: number;
  /** exclusive */
  x1: number;
  y1: number;
}

function inkBox(image: InkImage): Box | null {
  const { width, height, ink } = image;
  let x0 = width;
  let y0 = height;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! > BOX_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x >= x1) x1 = x + 1;
        if (y < y0) y0 = y;
        if (y >= y1) y1 = y + 1;
      }
    }
  }
  return x1 > x0 ? { x0, y0, x1, y1 } : null;
}

/**
 * Summed-area table of the ink inside `box` (ink outside it is dropped): `(w+1)·(h+1)` sums,
 * entry (x, y) = ink over [0, x) × [0, y) in box coordinates.
 */
function summedArea(image: InkImage, box: Box): { table: Float64Array; w: number; h: number } {
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  const table = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += image.ink[(box.y0 + y) * image.width + box.x0 + x]!;
      table[(y + 1) * (w + 1) + x + 1] = table[y * (w + 1) + x + 1]! + row;
    }
  }
  return { table, w, h };
}

/**
 * Ink integrated over [0, x) × [0, y) for fractional x, y. The integral of a piecewise-constant
 * image is bilinear inside each pixel, so interpolating the table between its integer corners is exact.
 */
function integral(sat: { table: Float64Array; w: number; h: number }, x: number, y: number): number {
  const { table, w, h } = sat;
  const cx = Math.min(Math.max(x, 0), w);
  const cy = Math.min(Math.max(y, 0), h);
  const ix = Math.min(Math.floor(cx), w - 1);
  const iy = Math.min(Math.floor(cy), h - 1);
  const fx = cx - ix;
  const fy = cy - iy;
  const stride = w + 1;
  const a = table[iy * stride + ix]!;
  const b = table[iy * stride + ix + 1]!;
  const c = table[(iy + 1) * stride + ix]!;
  const d = table[(iy + 1) * stride + ix + 1]!;
  return a * (1 - fx) * (1 - fy) + b * fx * (1 - fy) + c * (1 - fx) * fy + d * fx * fy;
}

/**
 * A drawing as the model's input: 784 intensities in [0, 1] (28×28, row-major), the digit's
 * bounding box scaled to fit 20×20 with its aspect ratio kept, and its centre of mass at the
 * centre of the field. Returns null when there is no ink.
 */
export function preprocessDigit(image: InkImage): Float32Array | null {
  if (image.ink.length !== image.width * image.height) {
    throw new RangeError(`expected ${image.width * image.height} ink values, got ${image.ink.length}`);
  }
  const box = inkBox(image);
  if (!box) return null;
  const sat = summedArea(image, box);
  const mass = sat.table[sat.table.length - 1]!;
  if (!(mass > 0)) return null;

  // Centre of mass in box coordinates (pixel x covers [x, x+1), its centre is x + 0.5).
  let mx = 0;
  let my = 0;
  for (let y = 0; y < sat.h; y++) {
    for (let x = 0; x < sat.w; x++) {
      const v = image.ink[(box.y0 + y) * image.width + box.x0 + x]!;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  mx /= mass;
  my /= mass;

  // Output pixel (col, row) covers [col, col+1) × [row, row+1); the field's centre is at 14.
  // Output u maps to box x = mx + (u - 14) / scale, so one output pixel is 1/scale source pixels wide.
  const scale = MNIST_BOX / Math.max(sat.w, sat.h);
  const step = 1 / scale;
  const centre = MNIST_SIDE / 2;
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  for (let row = 0; row < MNIST_SIDE; row++) {
    const ya = my + (row - centre) * step;
    const yb = ya + step;
    if (yb <= 0 || ya >= sat.h) continue;
    for (let col = 0; col < MNIST_SIDE; col++) {
      const xa = mx + (col - centre) * step;
      const xb = xa + step;
      if (xb <= 0 || xa >= sat.w) continue;
      const sum = integral(sat, xb, yb) - integral(sat, xa, yb) - integral(sat, xb, ya) + integral(sat, xa, ya);
      // The average over the covered area; rounding can leave tiny negatives or a hair over 1.
      out[row * MNIST_SIDE + col] = Math.min(1, Math.max(0, sum * scale * scale));
    }
  }
  return out;
}
