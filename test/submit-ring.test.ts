import { describe, expect, it } from 'vitest';
import { mlp } from '../src/model/model.ts';
import { sgd } from '../src/model/optimizers.ts';
import { configFrom } from '../src/model/trainer/config.ts';
import { MapPacer } from '../src/model/trainer/submit-ring.ts';
import type { AdapterSummary, Gpu } from '../src/runtime/device.ts';

// MapPacer against a simulated device: chunk i, submitted at once, finishes CHUNK_MS after chunk
// i − 1 (in order, as a queue runs them); a map resolves when its chunk has finished, and the test
// records when each map began. No GPU: this is the scheduling alone, in real time (chunks long
// enough that timers late by tens of ms on a loaded machine stay inside the margins).
const CHUNK_MS = 100;

function simulated(chunks: number, chunkMs: (i: number) => number = () => CHUNK_MS) {
  const t0 = performance.now();
  const finishes: number[] = [];
  for (let i = 0, t = t0; i < chunks; i++) finishes.push((t += chunkMs(i)));
  const mapStarts: number[] = [];
  const map = (i: number) => async () => {
    mapStarts[i] = performance.now();
    const left = finishes[i]! - performance.now();
    if (left > 0) await new Promise((ok) => setTimeout(ok, left));
  };
  return { t0, finishes, mapStarts, map };
}

describe('MapPacer: readback started near each chunk’s end, not at submit', () => {
  it('maps the first two chunks at once, then each about when its chunk ends, in order', async () => {
    const chunks = 8;
    const device = simulated(chunks);
    const pacer = new MapPacer();
    const done = Array.from({ length: chunks }, (_, i) => pacer.schedule(device.t0, device.map(i)));
    await Promise.all(done);
    const { mapStarts, finishes, t0 } = device;
    // no timing yet: the first chunk (it also compiles) and the first one timed map at once
    expect(mapStarts[0]! - t0).toBeLessThan(CHUNK_MS / 2);
    expect(mapStarts[1]! - finishes[0]!).toBeLessThan(CHUNK_MS / 2);
    // in order: no map starts before the one ahead of it has resolved (timers round to 1 ms)
    for (let i = 1; i < chunks; i++) expect(mapStarts[i]! + 2).toBeGreaterThanOrEqual(finishes[i - 1]!);
    // once a chunk was timed, a map waits out most of its chunk rather than polling through it,
    // and never starts so late that the chunk behind it would have ended meanwhile
    for (let i = 3; i < chunks; i++) {
      const polled = Math.max(0, finishes[i]! - mapStarts[i]!);
      expect(polled, `chunk ${i} polled ${polled.toFixed(1)} ms of ${CHUNK_MS}`).toBeLessThan(CHUNK_MS / 2);
      expect(mapStarts[i]! - finishes[i]!, `chunk ${i} mapped late`).toBeLessThan(CHUNK_MS);
    }
  });

  it('follows chunks that become twice as fast: within a few chunks no map starts a chunk late', async () => {
    const [chunks, shift, fast] = [20, 6, CHUNK_MS / 2];
    const device = simulated(chunks, (i) => (i < shift ? CHUNK_MS : fast));
    const pacer = new MapPacer();
    await Promise.all(Array.from({ length: chunks }, (_, i) => pacer.schedule(device.t0, device.map(i))));
    const late = device.mapStarts.map((m, i) => m - device.finishes[i]!);
    for (let i = shift + 8; i < chunks; i++) expect(late[i]!, `chunk ${i}: ${late.map((l) => l.toFixed(0)).join(' ')}`).toBeLessThan(fast);
  });

  it('fails a chunk whose map fails, and still maps the next in its turn', async () => {
    const pacer = new MapPacer();
    const order: string[] = [];
    const failing = pacer.schedule(performance.now(), async () => {
      order.push('a');
      throw new Error('device lost');
    });
    const next = pacer.schedule(performance.now(), async () => {
      order.push('b');
    });
    await expect(failing).rejects.toThrow('device lost');
    await expect(next).resolves.toBeUndefined();
    expect(order).toEqual(['a', 'b']);
  });
});

describe('paced readback by default only where a pending map polls on a device that computes on the CPU', () => {
  const adapter = (description: string, isFallback: boolean): AdapterSummary => ({
    vendor: '',
    architecture: '',
    device: '',
    description,
    isFallback,
    features: [],
    subgroupMinSize: 0,
    maxStorageBuffersPerShaderStage: 8,
    maxComputeWorkgroupStorageSize: 16384,
  });
  const paced = (isFallback: boolean, pollsWhileMapping: boolean, extra: { maxInFlight?: number; pacedReadback?: boolean } = {}) =>
    configFrom(
      { adapter: adapter(isFallback ? 'llvmpipe (LLVM 15.0.6, 256 bits)' : 'NVIDIA H200', isFallback), pollsWhileMapping } as Gpu,
      {
        model: mlp([4, 3, 2]),
        optimizer: sgd({ lr: 0.1 }),
        ...extra,
      } as Parameters<typeof configFrom>[1],
    ).pacedReadback;

  it('lavapipe under Dawn’s Node binding: paced; a GPU, or a browser’s maps: not', () => {
    expect(paced(true, true)).toBe(true);
    expect(paced(false, true)).toBe(false);
    expect(paced(true, false)).toBe(false);
  });

  it('not with one command buffer in flight (a late wake would leave the device idle); the option overrides', () => {
    expect(paced(true, true, { maxInFlight: 1 })).toBe(false);
    expect(paced(true, true, { pacedReadback: false })).toBe(false);
    expect(paced(false, false, { pacedReadback: true })).toBe(true);
  });
});
