/**
 * The demo's saved-run files (demo/store.ts): what is written reads back exactly, and a file
 * that was truncated, bit-flipped or is not a save at all is refused with a line saying so (the
 * page reports it and ignores the file). No browser needed: the codec is plain bytes + SHA-256.
 */
import { describe, expect, it } from 'vitest';
import type { RunInfo } from '../demo/protocol.ts';
import { decodeRun, encodeRun } from '../demo/store.ts';

const info: RunInfo = {
  id: 'r1',
  settings: {
    epochs: 3,
    layers: [784, 32, 10],
    batchSize: 16,
    seed: 7,
    optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0, beta1: 0.9, beta2: 0.999 },
  },
  stepsPerEpoch: 24,
  epoch: 1,
  stepInEpoch: 0,
  globalStep: 24,
  completed: false,
  history: {
    losses: Float32Array.from({ length: 24 }, (_, i) => 2.3 - i * 0.05),
    tests: [{ epoch: 1, step: 24, loss: 1.2, accuracy: 0.61 }],
  },
};
const checkpoint = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) & 255);

describe('demo saved runs', () => {
  it('read back exactly what was written', async () => {
    const bytes = await encodeRun(info, checkpoint);
    const back = await decodeRun(bytes, 'run-1.bin');
    expect(back.checkpoint).toEqual(checkpoint);
    expect(back.info).toEqual(info);
  });

  it('refuse a damaged or foreign file with a one-line reason', async () => {
    const bytes = await encodeRun(info, checkpoint);
    await expect(decodeRun(bytes.subarray(0, bytes.length - 1), 'run-1.bin')).rejects.toThrow(/^run-1\.bin: truncated/);
    const flipped = bytes.slice();
    flipped[flipped.length - 10]! ^= 0x10;
    await expect(decodeRun(flipped, 'run-1.bin')).rejects.toThrow('run-1.bin: corrupt (checksum mismatch)');
    await expect(decodeRun(new TextEncoder().encode('hello'), 'x.bin')).rejects.toThrow('x.bin: not a saved run');
    const header = bytes.slice();
    header[20] = 0x7b; // a `{` where the JSON had something else
    await expect(decodeRun(header, 'run-1.bin')).rejects.toThrow(/^run-1\.bin: (unreadable header|bad header|version)/);
    const long = bytes.slice();
    new DataView(long.buffer).setUint32(8, 1e9, true);
    await expect(decodeRun(long, 'run-1.bin')).rejects.toThrow('run-1.bin: truncated header');
  });
});
