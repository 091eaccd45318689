import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipIfNeeded, idxDataset, MAX_GUNZIP_BYTES, parseIdxImages, parseIdxLabels } from '../src/model/data/idx.ts';
import { loadMnist, MNIST_CHECKSUMS, MNIST_FILES, MNIST_NORMALIZATION, type MnistLike } from '../src/model/data/mnist.ts';
import { loadMnistDir, resolveDataDir, verifyMnistFile } from '../src/model/data/mnist-node.ts';
import { expectInputError } from './helpers.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mnistDir = resolve(repoRoot, process.env.MNIST_DIR ?? '../shared/mnist');

function u32be(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, v, false));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function idxImages(count: number, rows = 28, cols = 28, magic = 0x803): Uint8Array {
  const pixels = new Uint8Array(count * rows * cols).map((_, i) => (i * 7) & 0xff);
  return concat(u32be(magic, count, rows, cols), pixels);
}

function idxLabels(labels: number[], magic = 0x801): Uint8Array {
  return concat(u32be(magic, labels.length), Uint8Array.from(labels));
}

function histogram(labels: ArrayLike<number>): number[] {
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  return counts;
}

describe('real MNIST files', () => {
  let mnist: MnistLike;
  beforeAll(async () => {
    mnist = await loadMnistDir(mnistDir);
  });

  it('has 60000 train and 10000 test examples of 28x28', () => {
    expect(mnist.train.count).toBe(60000);
    expect(mnist.test.count).toBe(10000);
    expect(mnist.train.features.length).toBe(60000 * 784);
    expect(mnist.test.features.length).toBe(10000 * 784);
    expect(mnist.train.labels.length).toBe(60000);
    expect(mnist.test.labels.length).toBe(10000);
    // Well-known first labels: a 5 in train, a 7 in test.
    expect(mnist.train.labels[0]).toBe(5);
    expect(mnist.test.labels[0]).toBe(7);
    expect(Math.max(...mnist.train.features.subarray(0, 784))).toBe(255);
  });

  it('has the known per-digit label counts', () => {
    expect(histogram(mnist.train.labels)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(histogram(mnist.test.labels)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  it('passes the size and MD5 check', async () => {
    for (const name of Object.keys(MNIST_CHECKSUMS)) {
      verifyMnistFile(name, await readFile(join(mnistDir, name)));
    }
  });

  it('fails the check when a byte changes or the file is cut short', async () => {
    const name = 't10k-labels-idx1-ubyte.gz';
    const bytes = new Uint8Array(await readFile(join(mnistDir, name)));
    const flipped = bytes.slice();
    flipped[100]! ^= 1;
    await expectInputError(() => verifyMnistFile(name, flipped), name, 'checksum mismatch', MNIST_CHECKSUMS[name]!.md5);
    await expectInputError(() => verifyMnistFile(name, bytes.subarray(0, 4000)), name, '4000 bytes', '4542');
    await expectInputError(() => verifyMnistFile('mnist.zip', bytes), 'mnist.zip');
  });

  it('truncated or garbage gzip is rejected', async () => {
    const name = `${MNIST_FILES.trainLabels}.gz`;
    const gz = new Uint8Array(await readFile(join(mnistDir, name)));
    await expectInputError(() => gunzipIfNeeded(gz.subarray(0, 10000), name), name, 'corrupt or truncated gzip');
    await expectInputError(() => gunzipIfNeeded(gz.subarray(0, gz.length - 4), name), name, 'corrupt or truncated gzip');
    const garbage = concat(
      Uint8Array.of(0x1f, 0x8b),
      new Uint8Array(200).map((_, i) => (i * 131 + 17) & 0xff),
    );
    await expectInputError(() => gunzipIfNeeded(garbage, name), name, 'corrupt or truncated gzip');
  });
});

describe('gunzipIfNeeded', () => {
  it('returns uncompressed bytes unchanged', async () => {
    const raw = idxLabels([1, 2, 3]);
    expect(await gunzipIfNeeded(raw, 'x')).toBe(raw);
    expect(await gunzipIfNeeded(new Uint8Array(0), 'x')).toEqual(new Uint8Array(0));
  });

  it('decompresses gzip', async () => {
    const raw = idxImages(50);
    expect(await gunzipIfNeeded(gzipSync(raw), 'x.gz')).toEqual(raw);
  });

  // Found by test/fuzz.test.ts: a gzip bomb (here 10 KB that inflate to 10 MB) was decompressed in full,
  // so a small file could fill memory; now decompression stops at a limit.
  it('stops a stream that decompresses past the limit', async () => {
    const bomb = gzipSync(new Uint8Array(10 << 20), { level: 9 });
    expect(bomb.length).toBeLessThan(20_000);
    await expectInputError(() => gunzipIfNeeded(bomb, 'bomb.gz', 1 << 20), 'bomb.gz: decompresses to more than 1048576 bytes');
    expect((await gunzipIfNeeded(bomb, 'bomb.gz', 10 << 20)).length).toBe(10 << 20);
    // The default leaves room for any 28x28 IDX set (MNIST's train images: 47 MB) but not for a bomb's gigabytes.
    expect(MAX_GUNZIP_BYTES).toBeGreaterThan(16 + 60000 * 784);
    expect(MAX_GUNZIP_BYTES).toBeLessThanOrEqual(2 ** 30);
  });
});

describe('parseIdxImages', () => {
  const name = 'train-images-idx3-ubyte';

  it('parses a valid file', () => {
    const parsed = parseIdxImages(idxImages(3), name);
    expect(parsed).toMatchObject({ count: 3, rows: 28, cols: 28 });
    expect(parsed.pixels.length).toBe(3 * 784);
    expect(parsed.pixels[1]).toBe(7);
    expect(parseIdxImages(idxImages(2, 5, 4), name, { rows: 5, cols: 4 }).count).toBe(2);
  });

  it('rejects a label file (wrong magic)', async () => {
    await expectInputError(
      () => parseIdxImages(idxLabels([1, 2]), name),
      name,
      'is not an IDX image file (magic 0x00000801, expected 0x00000803)',
    );
  });

  it('rejects a short header', async () => {
    await expectInputError(() => parseIdxImages(Uint8Array.of(0, 0), name), name);
    await expectInputError(() => parseIdxImages(u32be(0x803, 1, 28), name), name, 'truncated IDX header');
  });

  it('rejects a truncated body', async () => {
    const bytes = idxImages(10);
    await expectInputError(() => parseIdxImages(bytes.subarray(0, bytes.length - 1), name), name, 'truncated', '7856');
  });

  it('rejects trailing bytes', async () => {
    await expectInputError(() => parseIdxImages(concat(idxImages(2), Uint8Array.of(0, 0, 0)), name), name, '3 unexpected trailing bytes');
  });

  it('rejects images of the wrong size', async () => {
    await expectInputError(() => parseIdxImages(idxImages(2, 32, 32), name), name, '32x32, expected 28x28');
  });
});

describe('parseIdxLabels', () => {
  const name = 'train-labels-idx1-ubyte';

  it('parses a valid file', () => {
    expect(Array.from(parseIdxLabels(idxLabels([0, 9, 4]), name))).toEqual([0, 9, 4]);
  });

  it('rejects an image file (wrong magic)', async () => {
    await expectInputError(
      () => parseIdxLabels(idxImages(1), name),
      name,
      'is not an IDX label file (magic 0x00000803, expected 0x00000801)',
    );
  });

  it('rejects labels outside 0..9, naming the first', async () => {
    await expectInputError(() => parseIdxLabels(idxLabels([3, 1, 10, 200]), name), name, 'label 2 is 10');
  });

  it('rejects truncated and over-long files', async () => {
    const bytes = idxLabels([1, 2, 3, 4]);
    await expectInputError(() => parseIdxLabels(bytes.subarray(0, 10), name), name, 'truncated');
    await expectInputError(() => parseIdxLabels(bytes.subarray(0, 6), name), name, 'truncated IDX header');
    await expectInputError(() => parseIdxLabels(concat(bytes, Uint8Array.of(1)), name), name, 'trailing');
  });
});

describe('loading a directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mnist-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeSet(sub: string, files: Partial<Record<keyof typeof MNIST_FILES, Uint8Array>>, gzip: boolean): Promise<string> {
    const at = join(dir, sub);
    await rm(at, { recursive: true, force: true });
    await mkdir(at, { recursive: true });
    for (const [key, bytes] of Object.entries(files)) {
      const base = MNIST_FILES[key as keyof typeof MNIST_FILES];
      await writeFile(join(at, gzip ? `${base}.gz` : base), gzip ? gzipSync(bytes) : bytes);
    }
    return at;
  }

  const good = {
    trainImages: idxImages(6),
    trainLabels: idxLabels([0, 1, 2, 3, 4, 5]),
    testImages: idxImages(2),
    testLabels: idxLabels([9, 8]),
  };

  it('loads gzipped and uncompressed files', async () => {
    for (const gzip of [true, false]) {
      const mnist = await loadMnistDir(await writeSet(`ok-${gzip}`, good, gzip));
      expect(mnist.train.count).toBe(6);
      expect(mnist.test.count).toBe(2);
      expect(Array.from(mnist.test.labels)).toEqual([9, 8]);
      expect(mnist.train.features).toEqual(good.trainImages.subarray(16));
    }
  });

  it('reports a missing file with the directory', async () => {
    const { testLabels: _, ...rest } = good;
    const at = await writeSet('missing', rest, true);
    await expectInputError(() => loadMnistDir(at), `MNIST file not found: looked for t10k-labels-idx1-ubyte(.gz) in ${at}`);
    await expectInputError(() => loadMnistDir(join(dir, 'no-such-dir')), 'MNIST file not found', join(dir, 'no-such-dir'));
  });

  it('reports an image/label count mismatch', async () => {
    const at = await writeSet('mismatch', { ...good, trainLabels: idxLabels([0, 1, 2, 3, 4]) }, true);
    await expectInputError(() => loadMnistDir(at), 'train-images-idx3-ubyte.gz has 6 images', 'train-labels-idx1-ubyte.gz has 5 labels');
  });

  it('reports a corrupt gzip by file name', async () => {
    const at = await writeSet('corrupt', good, true);
    const path = join(at, 't10k-images-idx3-ubyte.gz');
    const gz = await readFile(path);
    await writeFile(path, gz.subarray(0, gz.length - 10));
    await expectInputError(() => loadMnistDir(at), 't10k-images-idx3-ubyte.gz: corrupt or truncated gzip data');
  });

  it('reports bad content by file name', async () => {
    const at = await writeSet('bad-size', { ...good, testImages: idxImages(2, 32, 32) }, false);
    await expectInputError(() => loadMnistDir(at), 't10k-images-idx3-ubyte: images are 32x32, expected 28x28');
  });

  it('works with any reader (browser path)', async () => {
    const files = new Map<string, Uint8Array>([
      ['train-images-idx3-ubyte', good.trainImages],
      ['train-labels-idx1-ubyte.gz', gzipSync(good.trainLabels)],
      ['t10k-images-idx3-ubyte.gz', gzipSync(good.testImages)],
      ['t10k-labels-idx1-ubyte', good.testLabels],
    ]);
    const mnist = await loadMnist(async (f: string) => files.get(f) ?? null, 'memory');
    expect(mnist.train.count).toBe(6);
    files.delete('train-images-idx3-ubyte');
    await expectInputError(() => loadMnist(async (f: string) => files.get(f) ?? null, 'the chosen files'), 'in the chosen files');
  });
});

describe('resolveDataDir', () => {
  it('prefers the flag, then MNIST_DIR, then data/mnist', () => {
    const saved = process.env.MNIST_DIR;
    try {
      process.env.MNIST_DIR = '/env/dir';
      expect(resolveDataDir('/flag/dir')).toBe('/flag/dir');
      expect(resolveDataDir()).toBe('/env/dir');
      delete process.env.MNIST_DIR;
      expect(resolveDataDir()).toBe('data/mnist');
    } finally {
      if (saved === undefined) delete process.env.MNIST_DIR;
      else process.env.MNIST_DIR = saved;
    }
  });
});

describe('IDX data sets beyond MNIST', () => {
  it('takes any image size and class count, and gets the seed normalization for MNIST', async () => {
    const ds = await idxDataset(
      { name: 'letters-images', bytes: gzipSync(idxImages(3, 5, 7)) },
      { name: 'letters-labels', bytes: idxLabels([0, 25, 12]) },
      { classes: 26, normalization: { mean: 0.5, std: 0.25 } },
    );
    expect(ds.featureCount).toBe(35);
    expect(ds.classes).toBe(26);
    expect(Array.from(ds.labels)).toEqual([0, 25, 12]);
    expect(ds.normalization).toEqual({ mean: 0.5, std: 0.25 });
    await expectInputError(
      () => idxDataset({ name: 'i', bytes: idxImages(3, 5, 7) }, { name: 'l', bytes: idxLabels([0, 26, 1]) }, { classes: 26 }),
      'l: label 1 is 26, expected a class index in 0..25',
    );
  });

  it('computes a normalization from the pixels when none is given (the real MNIST training set gives 0.1307 / 0.3081)', async () => {
    const mnist = await loadMnistDir(mnistDir, { normalization: 'compute' });
    expect(mnist.train.normalization.mean).toBeCloseTo(MNIST_NORMALIZATION.mean, 4);
    expect(mnist.train.normalization.std).toBeCloseTo(MNIST_NORMALIZATION.std, 4);
    expect(mnist.test.normalization).toEqual(mnist.train.normalization);
    expect((await loadMnistDir(mnistDir)).train.normalization).toEqual(MNIST_NORMALIZATION);
  });
});
