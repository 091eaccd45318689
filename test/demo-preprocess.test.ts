import { describe, expect, it } from 'vitest';
import { inkFromRgba, MNIST_BOX, MNIST_SIDE, preprocessDigit, type InkImage } from '../demo/draw.ts';
import { expectClose } from './helpers.ts';

const W = 280;

/** A blank W×W drawing with `fill(x, y)` giving the ink of each pixel. */
function drawing(fill: (x: number, y: number) => number, side = W): InkImage {
  const ink = new Float32Array(side * side);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) ink[y * side + x] = fill(x, y);
  return { width: side, height: side, ink };
}

function rect(x0: number, y0: number, w: number, h: number, value = 1) {
  return (x: number, y: number) => (x >= x0 && x < x0 + w && y >= y0 && y < y0 + h ? value : 0);
}

/** Centre of mass in continuous coordinates (pixel i covers [i, i+1)), plus mass and the box of non-zero pixels. */
function stats(pixels: Float32Array) {
  let mass = 0;
  let mx = 0;
  let my = 0;
  let x0 = MNIST_SIDE;
  let y0 = MNIST_SIDE;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < MNIST_SIDE; y++) {
    for (let x = 0; x < MNIST_SIDE; x++) {
      const v = pixels[y * MNIST_SIDE + x]!;
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
      if (v > 1e-6) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + 1);
        y1 = Math.max(y1, y + 1);
      }
    }
  }
  return { mass, cx: mx / mass, cy: my / mass, width: x1 - x0, height: y1 - y0 };
}

describe('preprocessDigit (MNIST-style: fit 20×20 keeping aspect, centre of mass at the centre)', () => {
  it('returns null for an empty drawing or only faint stray ink', () => {
    expect(preprocessDigit(drawing(() => 0))).toBeNull();
    expect(preprocessDigit(drawing(rect(10, 10, 5, 5, 0.05)))).toBeNull();
  });

  it('gives 784 values in [0, 1]', () => {
    const out = preprocessDigit(drawing(rect(37, 61, 83, 141)))!;
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(784);
    for (const v of out) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('scales the longer side to 20 pixels and keeps the aspect ratio', () => {
    // 100 wide, 50 tall: 20×10 after scaling, centred, so it covers whole pixels exactly.
    const wide = stats(preprocessDigit(drawing(rect(30, 40, 100, 50)))!);
    expect(wide.width).toBe(MNIST_BOX);
    expect(wide.height).toBe(10);
    expect(wide.mass).toBeCloseTo(200, 3);
    // A tall thin stroke (a "1") stays thin: 10 × 200 → 1 × 20.
    const tall = stats(preprocessDigit(drawing(rect(200, 20, 10, 200)))!);
    expect(tall.height).toBe(MNIST_BOX);
    expect(tall.mass).toBeCloseTo(20, 3);
    expect(tall.width).toBeLessThanOrEqual(2);
  });

  it('puts the centre of mass at the centre of the 28×28 field, also for lopsided shapes', () => {
    // An "L": a vertical bar and a foot, so the centre of mass is not the centre of the box.
    const ell = (x: number, y: number) => rect(50, 50, 20, 150)(x, y) || rect(50, 180, 90, 20)(x, y);
    const s = stats(preprocessDigit(drawing(ell))!);
    expect(s.cx).toBeCloseTo(MNIST_SIDE / 2, 1);
    expect(s.cy).toBeCloseTo(MNIST_SIDE / 2, 1);
  });

  it('does not depend on where the digit was drawn, nor (much) on how big', () => {
    const shape = (ox: number, oy: number, k: number) => (x: number, y: number) =>
      rect(ox, oy, 12 * k, 60 * k)(x, y) || rect(ox, oy, 40 * k, 10 * k)(x, y) || rect(ox + 30 * k, oy, 10 * k, 35 * k)(x, y);
    const a = preprocessDigit(drawing(shape(20, 30, 2)))!;
    const b = preprocessDigit(drawing(shape(133, 101, 2)))!;
    expectClose(b, a, { atol: 1e-6, rtol: 0, what: 'translated drawing' });
    // The same shape at half the size (an exact factor, so the boxes scale exactly): same image.
    const small = preprocessDigit(drawing(shape(60, 70, 1)))!;
    expectClose(small, a, { atol: 1e-5, rtol: 0, what: 'smaller drawing' });
  });

  it('anti-aliases: a box that does not land on pixel boundaries gets grey edges', () => {
    // 70 × 30 → 20 × 8.57: the bottom and top rows are partly covered.
    const out = preprocessDigit(drawing(rect(100, 100, 70, 30)))!;
    const grey = [...out].filter((v) => v > 0.01 && v < 0.99).length;
    expect(grey).toBeGreaterThan(0);
    expect(stats(out).mass).toBeCloseTo((20 * 30 * 20) / 70, 2);
  });

  it('reads the ink from the alpha channel of canvas pixels', () => {
    const rgba = new Uint8ClampedArray(2 * 2 * 4);
    rgba[3] = 255;
    rgba[15] = 51;
    const image = inkFromRgba(rgba, 2, 2);
    expectClose(image.ink as Float32Array, [1, 0, 0, 0.2], { atol: 1e-6, rtol: 0, what: 'ink' });
    expect(() => inkFromRgba(rgba, 3, 2)).toThrow(RangeError);
  });

  it('rejects an image whose size does not match its ink', () => {
    expect(() => preprocessDigit({ width: 10, height: 10, ink: new Float32Array(99) })).toThrow(RangeError);
  });
});
