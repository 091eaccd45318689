import { describe, expect, it } from 'vitest';
import { Rng } from '../src/model/rng.ts';

describe('Rng', () => {
  it('is reproducible from a seed and from a saved state', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    for (let i = 0; i < 5; i++) a.nextU32();
    for (let i = 0; i < 5; i++) b.nextU32();
    const resumed = new Rng(a.state);
    const seq = Array.from({ length: 20 }, () => a.nextU32());
    expect(Array.from({ length: 20 }, () => resumed.nextU32())).toEqual(seq);
    expect(Array.from({ length: 20 }, () => b.nextU32())).toEqual(seq);
    expect(new Rng(43).nextU32()).not.toBe(new Rng(42).nextU32());
  });

  it('draws uniform floats in [0, 1) and permutations that are permutations', () => {
    const rng = new Rng(7);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) {
      const f = rng.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      sum += f;
    }
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01);
    const p = rng.permutation(1000);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...p.slice(0, 10)]).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
