import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InputError } from '../src/runtime/errors.ts';
import { checkStateDict, decodeSafetensors, encodeSafetensors, type Tensor } from '../src/model/io/safetensors.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../src/model/io/checkpoint.ts';
import { sgd } from '../src/model/optimizers.ts';
import { CONSTANT_LR } from '../src/model/schedules.ts';
import type { CheckpointConfig } from '../src/model/trainer/state.ts';
import { paramLayout } from '../src/model/layout.ts';
import { writeFileAtomic } from '../src/model/io/atomic-file.ts';
import { expectInputError } from './helpers.ts';

// Lets a test make FileHandle.writeFile fail midway (after writing some bytes), like a full disk.
const fault = vi.hoisted(() => ({ failWriteAfterBytes: -1 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof actual.open = async (...args) => {
    const handle = await actual.open(...args);
    if (fault.failWriteAfterBytes >= 0) {
      const keep = fault.failWriteAfterBytes;
      (handle as unknown as { writeFile: (data: Uint8Array) => Promise<void> }).writeFile = async (data) => {
        await handle.write(data.subarray(0, keep));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      };
    }
    return handle;
  };
  return { ...actual, default: { ...actual, open }, open };
});

function randomTensor(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed >>> 0;
  const data = new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
  return { shape, data };
}

/** A safetensors file built by hand from a header string and raw data, padded as the Rust writer pads. */
function handBuilt(headerJson: string, data: Uint8Array, pad = true): Uint8Array {
  let header = headerJson;
  if (pad) while (header.length % 8 !== 0) header += ' ';
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

function f32le(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  return out;
}

const MLP = [
  { name: 'l1.weight', shape: [512, 784] },
  { name: 'l1.bias', shape: [512] },
  { name: 'l2.weight', shape: [512, 512] },
  { name: 'l2.bias', shape: [512] },
  { name: 'l3.weight', shape: [10, 512] },
  { name: 'l3.bias', shape: [10] },
];

describe('safetensors encode/decode', () => {
  it('round-trips tensors, order and metadata', () => {
    const tensors: [string, Tensor][] = [
      ['l1.weight', randomTensor([7, 5], 1)],
      ['l1.bias', randomTensor([7], 2)],
      ['0', randomTensor([3, 1, 2], 3)],
      ['scalar', { shape: [], data: Float32Array.of(3.5) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ];
    const metadata = { format: 'pt', epoch: '3', note: 'line one\nline two "quoted"' };
    const bytes = encodeSafetensors(tensors, metadata);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const decoded = decodeSafetensors(bytes, 'model.safetensors');
    expect(decoded.metadata).toEqual(metadata);
    expect([...decoded.tensors.keys()]).toEqual(tensors.map(([n]) => n));
    for (const [name, t] of tensors) {
      const got = decoded.tensors.get(name)!;
      expect(got.shape).toEqual(t.shape);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(Array.from(got.data)).toEqual(Array.from(t.data));
      // A fresh copy, not a view into the file bytes.
      expect(got.data.buffer).not.toBe(bytes.buffer);
    }
    expect(encodeSafetensors(new Map(tensors), metadata)).toEqual(bytes);
  });

  it('keeps the header 8-aligned for every header length', () => {
    for (let len = 1; len <= 16; len++) {
      const bytes = encodeSafetensors([['x'.repeat(len), { shape: [1], data: Float32Array.of(len) }]]);
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(n % 8).toBe(0);
      const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      expect(header.trimEnd()).toBe(`{"${'x'.repeat(len)}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`);
      expect(decodeSafetensors(bytes, 'x').tensors.get('x'.repeat(len))!.data[0]).toBe(len);
    }
  });

  it('writes the same bytes as Python safetensors for {"a": tensor([1., 2.])}', () => {
    const python = handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32le(1, 2));
    expect(python.length).toBe(8 + 56 + 8);
    expect(encodeSafetensors([['a', { shape: [2], data: Float32Array.of(1, 2) }]])).toEqual(python);
    const decoded = decodeSafetensors(python, 'a.safetensors');
    expect(decoded.metadata).toEqual({});
    expect([...decoded.tensors.keys()]).toEqual(['a']);
    expect(decoded.tensors.get('a')).toEqual({ shape: [2], data: Float32Array.of(1, 2) });
  });

  it('reads unpadded headers, unaligned data, F64, and unordered offsets', () => {
    // Header of odd length puts the data at an unaligned offset.
    let header =
      '{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"v"}}';
    while ((8 + header.length) % 4 !== 1) header += ' ';
    const decoded = decodeSafetensors(handBuilt(header, f32le(1.5, -2), false), 'odd');
    expect(decoded.tensors.get('a')!.data).toEqual(Float32Array.of(1.5));
    expect(decoded.tensors.get('b')!.data).toEqual(Float32Array.of(-2));
    expect(decoded.metadata).toEqual({ k: 'v' });
    // Map order follows the data, not the header.
    expect([...decoded.tensors.keys()]).toEqual(['a', 'b']);

    const f64 = new Uint8Array(16);
    new DataView(f64.buffer).setFloat64(0, 0.25, true);
    new DataView(f64.buffer).setFloat64(8, 1e-3, true);
    const d64 = decodeSafetensors(handBuilt('{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}', f64), 'f64');
    expect(d64.tensors.get('w')!.data).toEqual(Float32Array.of(0.25, 1e-3));
  });

  it('decodes from a view into a larger buffer', () => {
    const bytes = encodeSafetensors([['a', randomTensor([3], 9)]]);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(decodeSafetensors(big.subarray(3), 'view').tensors.get('a')!.data).toEqual(randomTensor([3], 9).data);
  });

  it('rejects bad tensors on encode', async () => {
    await expectInputError(() => encodeSafetensors([['a', { shape: [2, 2], data: new Float32Array(3) }]]), 'a', '3 values', '[2,2]');
    await expectInputError(
      () =>
        encodeSafetensors([
          ['a', { shape: [1], data: new Float32Array(1) }],
          ['a', { shape: [1], data: new Float32Array(1) }],
        ]),
      'a given twice',
    );
  });
});

describe('safetensors corrupt files', () => {
  const name = 'ckpt.safetensors';
  const valid = handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32le(1, 2));

  it('short file', async () => {
    await expectInputError(() => decodeSafetensors(new Uint8Array(5), name), name, 'too short');
    await expectInputError(() => decodeSafetensors(new Uint8Array(0), name), name, 'too short');
  });

  it('header length past the end of the file, or absurd', async () => {
    const bad = valid.slice();
    new DataView(bad.buffer).setBigUint64(0, 1000n, true);
    await expectInputError(() => decodeSafetensors(bad, name), name, 'header length 1000 runs past the end of the file (72 bytes)');
    new DataView(bad.buffer).setBigUint64(0, 2n ** 63n, true);
    await expectInputError(() => decodeSafetensors(bad, name), name, 'absurdly large');
  });

  it('malformed JSON, non-object header, bad UTF-8', async () => {
    await expectInputError(() => decodeSafetensors(handBuilt('{"a":{"dtype":\n"F32",', new Uint8Array(0)), name), name, 'not valid JSON');
    await expectInputError(() => decodeSafetensors(handBuilt('[1,2,3]', new Uint8Array(0)), name), name, 'not a JSON object');
    await expectInputError(() => decodeSafetensors(handBuilt('null', new Uint8Array(0)), name), name, 'not a JSON object');
    const badUtf8 = handBuilt('{"a":1}', new Uint8Array(0));
    badUtf8[10] = 0xff;
    await expectInputError(() => decodeSafetensors(badUtf8, name), name, 'not valid JSON');
  });

  it('entries missing fields or with bad metadata', async () => {
    const cases: [string, string][] = [
      ['{"a":{"shape":[2],"data_offsets":[0,8]}}', 'tensor a has no dtype'],
      ['{"a":{"dtype":"F32","data_offsets":[0,8]}}', 'tensor a has no valid shape'],
      ['{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', 'tensor a has no valid shape'],
      ['{"a":{"dtype":"F32","shape":[2]}}', 'tensor a has no valid data_offsets'],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', 'tensor a has no valid data_offsets'],
      ['{"a":[1,2]}', 'tensor a is not an object'],
      ['{"a\\nb":7}', 'tensor "a\\nb" is not an object'],
      ['{"__metadata__":{"k":1}}', 'metadata k is not a string'],
      ['{"__metadata__":[]}', '__metadata__ is not an object'],
    ];
    for (const [header, message] of cases) {
      await expectInputError(() => decodeSafetensors(handBuilt(header, f32le(1, 2)), name), name, message);
    }
  });

  it('offsets past the end, reversed, or not matching the shape', async () => {
    await expectInputError(
      () => decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}', f32le(1, 2)), name),
      name,
      'tensor a has data_offsets [0,12] past the end of the data (8 bytes)',
    );
    await expectInputError(
      () => decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', f32le(1, 2)), name),
      'end before begin',
    );
    await expectInputError(
      () => decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32le(1, 2)), name),
      'tensor a has 8 bytes of data, but shape [3] of F32 needs 12',
    );
  });

  // Found by test/fuzz.test.ts: tensors could share bytes, so a file naming the same data many times
  // over made the decoder allocate a copy for each, far beyond the file's size.
  it('tensors that share bytes', async () => {
    const aliases = Array.from({ length: 3 }, (_, i) => `"a${i}":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`);
    await expectInputError(
      () => decodeSafetensors(handBuilt(`{${aliases.join(',')}}`, f32le(1, 2)), name),
      `${name}: tensor a1 (data_offsets [0,8]) overlaps tensor a0 ([0,8])`,
    );
    await expectInputError(
      () =>
        decodeSafetensors(
          handBuilt(
            '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
            f32le(1, 2),
          ),
          name,
        ),
      'tensor b (data_offsets [4,8]) overlaps tensor a ([0,8])',
    );
    // Back to back, and empty tensors at a boundary, are fine.
    const ok = handBuilt(
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
      f32le(1, 2),
    );
    expect([...decodeSafetensors(ok, name).tensors.keys()]).toEqual(['a', 'e', 'b']);
  });

  // Found by test/fuzz.test.ts: a tensor name of any length went into the message whole.
  it('cuts long tensor names in messages', async () => {
    const long = 'x'.repeat(5000);
    const err = await expectInputError(
      () => decodeSafetensors(handBuilt(`{"${long}":[1]}`, f32le(1, 2)), name),
      'x... (5000 characters) is not an object',
    );
    expect(err.message.length).toBeLessThan(200);
  });

  it('unsupported dtypes', async () => {
    for (const dtype of ['F16', 'BF16', 'I64', 'U8', 'toString', '__proto__']) {
      await expectInputError(
        () => decodeSafetensors(handBuilt(`{"a":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,2]}}`, f32le(1, 2)), name),
        name,
        `tensor a has dtype ${dtype}`,
        'only F32',
      );
    }
  });

  it('never throws anything but InputError on random corruption', () => {
    const good = encodeSafetensors(
      [
        ['w', randomTensor([4, 4], 5)],
        ['b', randomTensor([4], 6)],
      ],
      { a: 'b' },
    );
    let s = 12345;
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = good.slice(0, trial % 3 === 0 ? (s >>> 0) % good.length : good.length);
      for (let k = 0; k < 3; k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        if (bytes.length > 0) bytes[s % bytes.length] = s >>> 24;
      }
      try {
        decodeSafetensors(bytes, name);
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
        expect((err as Error).message).not.toMatch(/[\r\n]/);
      }
    }
  });
});

describe('checkStateDict', () => {
  const name = 'mlp.safetensors';
  const full = () => new Map(MLP.map((e, i) => [e.name, randomTensor(e.shape, i)] as [string, Tensor]));

  it('accepts the expected tensors', () => {
    checkStateDict(full(), MLP, name);
  });

  it('missing tensor', async () => {
    const tensors = full();
    tensors.delete('l2.bias');
    await expectInputError(() => checkStateDict(tensors, MLP, name), name, 'missing tensor l2.bias', 'l1.weight [512,784]');
  });

  it('wrong shape', async () => {
    const tensors = full();
    tensors.set('l1.weight', randomTensor([10, 784], 1));
    await expectInputError(() => checkStateDict(tensors, MLP, name), `${name}: l1.weight has shape [10,784], expected [512,784]`);
    tensors.set('l1.weight', randomTensor([512, 784, 1], 1));
    await expectInputError(() => checkStateDict(tensors, MLP, name), 'l1.weight has shape [512,784,1], expected [512,784]');
  });

  it('extra tensor', async () => {
    const tensors = full();
    tensors.set('l4.weight', randomTensor([1], 1));
    await expectInputError(() => checkStateDict(tensors, MLP, name), name, 'unexpected tensor l4.weight');
  });

  // Issue 11: a NaN weight trained silently (the loss stayed finite while the weights rotted).
  it('non-finite values, naming the tensor and flat index', async () => {
    for (const [bad, text] of [
      [Number.NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
    ] as const) {
      const tensors = full();
      tensors.get('l3.weight')!.data[1234] = bad;
      await expectInputError(() => checkStateDict(tensors, MLP, name), `${name}: l3.weight[1234] is ${text}`);
    }
    const tensors = full();
    tensors.get('l1.bias')!.data[0] = Number.NaN;
    tensors.get('l3.weight')!.data[0] = Number.NaN;
    // The first one in the file's order.
    await expectInputError(() => checkStateDict(tensors, MLP, name), `${name}: l1.bias[0] is NaN`);
  });

  it('works on a decoded file end to end', async () => {
    const decoded = decodeSafetensors(encodeSafetensors(full()), name);
    checkStateDict(decoded.tensors, MLP, name);
    await expectInputError(() => checkStateDict(decoded.tensors, MLP.slice(1), name), 'unexpected tensor l1.weight');
  });
});

describe('writeFileAtomic', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'atomic-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function tempFilesIn(at: string): Promise<string[]> {
    return (await readdir(at)).filter((f) => f.endsWith('.tmp'));
  }

  it('writes, overwrites, creates parents, and leaves no temp files', async () => {
    const target = join(dir, 'a', 'b', 'model.safetensors');
    await writeFileAtomic(target, Uint8Array.of(1, 2, 3));
    expect(new Uint8Array(await readFile(target))).toEqual(Uint8Array.of(1, 2, 3));
    await writeFileAtomic(target, Uint8Array.of(9));
    expect(new Uint8Array(await readFile(target))).toEqual(Uint8Array.of(9));
    await writeFileAtomic(target, new Uint8Array(0));
    expect((await readFile(target)).length).toBe(0);
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['model.safetensors']);
  });

  it('concurrent writers leave one complete file', async () => {
    const target = join(dir, 'race.bin');
    const payloads = Array.from({ length: 8 }, (_, i) => new Uint8Array(100_000).fill(i));
    await Promise.all(payloads.map((p) => writeFileAtomic(target, p)));
    const got = new Uint8Array(await readFile(target));
    expect(got.length).toBe(100_000);
    expect(got.every((b) => b === got[0])).toBe(true);
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it('rejects when the target is a directory, leaving it and no temp file', async () => {
    const target = join(dir, 'is-a-dir');
    await mkdir(target);
    await writeFile(join(target, 'inside'), 'x');
    await expectInputError(() => writeFileAtomic(target, Uint8Array.of(1)), target, 'cannot write');
    expect(await readdir(target)).toEqual(['inside']);
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it('rejects when a parent is a file', async () => {
    const parent = join(dir, 'plain-file');
    await writeFile(parent, 'x');
    await expectInputError(() => writeFileAtomic(join(parent, 'child'), Uint8Array.of(1)), join(parent, 'child'));
    expect(await readFile(parent, 'utf8')).toBe('x');
  });

  it('keeps the old file byte-identical when the write fails midway', async () => {
    const target = join(dir, 'ckpt.safetensors');
    const old = encodeSafetensors([['w', randomTensor([64, 64], 7)]], { step: '1' });
    await writeFileAtomic(target, old);
    const replacement = encodeSafetensors([['w', randomTensor([128, 64], 8)]], { step: '2' });
    fault.failWriteAfterBytes = 1000;
    try {
      await expectInputError(() => writeFileAtomic(target, replacement), target, 'ENOSPC');
    } finally {
      fault.failWriteAfterBytes = -1;
    }
    expect(new Uint8Array(await readFile(target))).toEqual(old);
    expect(await tempFilesIn(dir)).toEqual([]);
    expect(decodeSafetensors(new Uint8Array(await readFile(target)), target).metadata).toEqual({ step: '1' });
  });
});

describe('decodeCheckpoint', () => {
  const name = 'checkpoint.safetensors';
  const layers = [3, 2, 2];
  const config: CheckpointConfig = {
    layers,
    optimizer: sgd({ lr: 0.01, momentum: 0.5 }),
    schedule: CONSTANT_LR,
    batchSize: 64,
    seed: 1,
    shuffle: true,
  };
  const layout = paramLayout(layers);
  const state = () => ({
    layers,
    weights: randomTensor([layout.totalFloats], 1).data,
    optimizerState: [randomTensor([layout.totalFloats], 2).data],
    epoch: 1,
    stepInEpoch: 2,
    globalStep: 3,
    epochRngState: Uint32Array.of(1, 2, 3, 4),
  });
  /** A checkpoint whose config metadata is `text`. */
  const withConfig = (text: string) => {
    const good = decodeSafetensors(encodeCheckpoint(state(), config), name);
    return encodeSafetensors(good.tensors, { ...good.metadata, config: text });
  };

  it('round-trips', () => {
    const decoded = decodeCheckpoint(encodeCheckpoint(state(), config), name);
    expect(decoded.config).toEqual(config);
    expect(decoded.state.weights).toEqual(
      state().weights.map((v, i) => (layout.tensors.some((t) => i >= t.offset && i < t.offset + t.size) ? v : 0)),
    );
  });

  // Found by test/fuzz.test.ts: a config that was JSON but not an object with a list of layers failed
  // with a TypeError inside paramLayout.
  it('a config that is not an object with layers', async () => {
    for (const text of ['null', '[]', '"x"', '{}', '{"layers":null}', '{"layers":"abc"}']) {
      await expectInputError(() => decodeCheckpoint(withConfig(text), name), `${name}: malformed checkpoint config`);
    }
    const { layers: _, ...rest } = config;
    await expectInputError(
      () => decodeCheckpoint(withConfig(JSON.stringify({ ...rest, layers: [3, 0] })), name),
      'layers is not a list of at least two positive integers',
    );
    await expectInputError(
      () => decodeCheckpoint(withConfig(JSON.stringify({ ...config, optimizer: { ...config.optimizer, lr: '0.1' } })), name),
      'learning rate must be a finite positive number',
    );
    await expectInputError(
      () => decodeCheckpoint(withConfig(JSON.stringify({ ...config, shuffle: 1 })), name),
      'shuffle is not true or false',
    );
  });

  // Found by test/fuzz.test.ts: keys the engine never writes came back in the config, and the CLI merges
  // that config into the run's, so a file could set e.g. the GPU tuning or the eval batch size unchecked.
  it('a config with keys the engine does not write', async () => {
    for (const key of ['tuning', 'evalBatchSize', '__proto__']) {
      const text = JSON.stringify(config).replace(/^\{/, `{${JSON.stringify(key)}:{},`);
      await expectInputError(
        () => decodeCheckpoint(withConfig(text), name),
        `${name}: malformed checkpoint config: unexpected key "${key}"`,
      );
    }
  });

  // Issue 11: non-finite weights or momentum are refused, named as in the file.
  it('non-finite weights or momentum', async () => {
    const s = state();
    s.weights[layout.tensors[2]!.offset + 1] = Number.NaN;
    await expectInputError(() => decodeCheckpoint(encodeCheckpoint(s, config), name), `${name}: l2.weight[1] is NaN`);
    const v = state();
    v.optimizerState[0]![layout.tensors[1]!.offset] = -Infinity;
    await expectInputError(() => decodeCheckpoint(encodeCheckpoint(v, config), name), `${name}: momentum.l1.bias[0] is -Infinity`);
  });
});
