/**
 * Property-based fuzzing of the three parsers that read files a user hands us: gzip + IDX, safetensors,
 * and the training checkpoint. Inputs start from real encodings (the repo's own encoders, node:zlib) and
 * are then truncated, bit-flipped, spliced and length-forged; header fields are also forged directly.
 * Every input must give valid data or a one-line InputError: never another exception, never a hang, and
 * never an allocation sized by a header field rather than by the bytes actually there.
 *
 * Seeded and reproducible: FUZZ_SEED (default below) seeds every property; a failure prints fast-check's
 * seed and path, and FUZZ_SEED=<seed> FUZZ_PATH=<path> replays exactly that case. FUZZ_SCALE multiplies
 * the run counts (FUZZ_SCALE=20 for a long soak). Node only, no GPU.
 */
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../src/model/io/checkpoint.ts';
import { gunzipIfNeeded, parseIdxImages, parseIdxLabels } from '../src/model/data/idx.ts';
import { loadMnist, MNIST_FILES, type MnistLike } from '../src/model/data/mnist.ts';
import { sgd } from '../src/model/optimizers.ts';
import { CONSTANT_LR } from '../src/model/schedules.ts';
import type { CheckpointConfig } from '../src/model/trainer/state.ts';
import { flatFromStateDict, layersOfStateDict, paramLayout, stateDictFromFlat } from '../src/model/layout.ts';
import { decodeSafetensors, encodeSafetensors, type Tensor } from '../src/model/io/safetensors.ts';
import { InputError } from '../src/runtime/errors.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const PATH = process.env.FUZZ_PATH;

/** fast-check settings for one property: the shared seed (offset per property, so they explore differently). */
function settings(offset: number, numRuns: number): fc.Parameters<unknown> {
  const seed = (SEED + offset) | 0;
  return {
    seed,
    numRuns: Math.max(1, Math.round(numRuns * SCALE)),
    includeErrorInReport: true,
    ...(PATH === undefined ? {} : { path: PATH }),
    // fast-check's report names seed and path already; say how to replay it here.
    reporter: (details) => {
      if (!details.failed) return;
      // -t takes a pattern: escape the test name's parentheses and the like.
      const test = (expect.getState().currentTestName?.split(' > ').pop() ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      throw new Error(
        `${fc.defaultReportMessage(details)}\nreplay: FUZZ_SEED=${SEED} FUZZ_PATH=${details.counterexamplePath} npx vitest run test/fuzz.test.ts -t ${JSON.stringify(test)}`,
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Outcome, time and allocation checks

/** The slowest any parser may take on these small inputs; far above normal (well under 1 ms), far below a hang. */
const MAX_CALL_MS = 5000;

const TYPED = [
  'ArrayBuffer',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int8Array',
  'Uint16Array',
  'Int16Array',
  'Uint32Array',
  'Int32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

class AllocationLimitError extends Error {
  override name = 'AllocationLimitError';
}

/**
 * Runs `fn` with the global typed-array and ArrayBuffer constructors wrapped, counting the bytes of every
 * buffer they create (views onto existing buffers are free). An allocation that would take the total past
 * `limit` throws before it happens (so a forged 2^40-element header cannot take the machine down) and
 * fails the property even if the parser catches it.
 */
function withAllocationLimit<T>(limit: number, fn: () => T): T {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = TYPED.map((name) => [name, g[name]] as const);
  let total = 0;
  let violation: string | undefined;
  for (const [name, original] of saved) {
    const ctor = original as { new (...args: unknown[]): unknown; BYTES_PER_ELEMENT?: number };
    const itemBytes = ctor.BYTES_PER_ELEMENT ?? 1;
    g[name] = new Proxy(ctor, {
      construct(target, args) {
        const first = args[0];
        if (typeof first === 'number' || typeof first === 'bigint') {
          const bytes = Number(first) * itemBytes;
          if (total + bytes > limit) {
            violation ??= `new ${name}(${String(first)}) would allocate ${bytes} bytes (limit ${limit}, ${total} so far)`;
            throw new AllocationLimitError(violation);
          }
        }
        const made = Reflect.construct(target, args) as ArrayBuffer | ArrayBufferView;
        // A copy (from an array or another typed array) allocates too; a view onto a given buffer does not.
        if (!(first instanceof ArrayBuffer) && !(typeof SharedArrayBuffer !== 'undefined' && first instanceof SharedArrayBuffer)) {
          total += made.byteLength;
          if (total > limit) violation ??= `${name} of ${made.byteLength} bytes took the total to ${total} (limit ${limit})`;
        }
        return made;
      },
    });
  }
  const restore = () => {
    for (const [name, original] of saved) g[name] = original;
  };
  const finish = (value: T) => {
    if (violation !== undefined) throw new AllocationLimitError(violation);
    return value;
  };
  let result: T;
  try {
    result = fn();
  } catch (err) {
    restore();
    if (violation !== undefined) throw new AllocationLimitError(violation, { cause: err });
    throw err;
  }
  if (result instanceof Promise) {
    return result.then(
      (v: unknown) => {
        restore();
        return finish(v as T);
      },
      (err: unknown) => {
        restore();
        if (violation !== undefined) throw new AllocationLimitError(violation, { cause: err });
        throw err;
      },
    ) as T;
  }
  restore();
  return finish(result);
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: InputError };

/** An InputError is an answer; anything else thrown (TypeError, RangeError, ...) fails the property. */
function classify<T>(err: unknown): Outcome<T> {
  if (!(err instanceof InputError)) throw err;
  expect(err.message, 'an InputError message is one line').not.toMatch(/[\r\n]/);
  expect(err.message.length, `an InputError message is short: ${err.message.slice(0, 200)}...`).toBeLessThanOrEqual(600);
  return { ok: false, error: err };
}

/** Runs a synchronous parser under the allocation limit and the time limit. */
function attempt<T>(limit: number, fn: () => T): Outcome<T> {
  const start = performance.now();
  let out: Outcome<T>;
  try {
    out = { ok: true, value: withAllocationLimit(limit, fn) };
  } catch (err) {
    out = classify<T>(err);
  }
  const ms = performance.now() - start;
  expect(ms, 'parser time').toBeLessThan(MAX_CALL_MS);
  return out;
}

/** Runs an async parser under the allocation limit, failing (not waiting forever) if it does not settle in time. */
async function attemptAsync<T>(limit: number, fn: () => Promise<T>): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: no answer in ${MAX_CALL_MS * 2} ms`)), MAX_CALL_MS * 2);
  });
  try {
    return { ok: true, value: await Promise.race([withAllocationLimit(limit, fn), hang]) };
  } catch (err) {
    return classify<T>(err);
  } finally {
    clearTimeout(timer);
  }
}

/** What a parser may allocate for `inputBytes` of input: a few copies of it, plus change. */
const allowance = (inputBytes: number, copies = 4) => copies * inputBytes + 64 * 1024;

describe('fuzz harness', () => {
  it('the allocation limit sees what a decoder that trusts a header would allocate', () => {
    const original = Float32Array;
    expect(() => withAllocationLimit(1000, () => new Float32Array(1000))).toThrow(AllocationLimitError);
    expect(() => withAllocationLimit(1000, () => Float64Array.from({ length: 200 }, () => 1))).toThrow(AllocationLimitError);
    expect(() => withAllocationLimit(1000, () => new Uint8Array(new ArrayBuffer(2000)))).toThrow(AllocationLimitError);
    // Caught even when the code under test swallows the error.
    const swallowing = () => {
      try {
        return new BigUint64Array(2 ** 40);
      } catch {
        return null;
      }
    };
    expect(() => withAllocationLimit(1 << 20, swallowing)).toThrow(AllocationLimitError);
    // Views onto existing buffers are free, and the real constructors come back afterwards.
    const buffer = new ArrayBuffer(4096);
    expect(withAllocationLimit(16, () => new Float32Array(buffer, 0, 1024)).length).toBe(1024);
    expect(Float32Array).toBe(original);
    const trusting = (b: Uint8Array) => new Float32Array(new DataView(b.buffer).getUint32(0, true));
    expect(() => attempt(allowance(8), () => trusting(Uint8Array.of(0, 0, 0, 64, 0, 0, 0, 0)))).toThrow(AllocationLimitError);
  });
});

// ---------------------------------------------------------------------------------------------------
// Byte-level mutations

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'splice'; at: number; remove: number; insert: Uint8Array }
  | { kind: 'append'; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), weight: 3 },
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    remove: fc.integer({ min: 0, max: 16 }),
    insert: fc.uint8Array({ maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
);
const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 6 });

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = input.slice();
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : 'at' in m ? m.at % (bytes.length + (m.kind === 'truncate' ? 0 : 1)) : 0;
    switch (m.kind) {
      case 'truncate':
        bytes = bytes.slice(0, at);
        break;
      case 'flip':
        if (at < bytes.length) bytes[at]! ^= 1 << m.bit;
        break;
      case 'set':
        if (at < bytes.length) bytes[at] = m.value;
        break;
      case 'splice': {
        const out = new Uint8Array(bytes.length - Math.min(m.remove, bytes.length - at) + m.insert.length);
        out.set(bytes.subarray(0, at));
        out.set(m.insert, at);
        out.set(bytes.subarray(at + m.remove), at + m.insert.length);
        bytes = out;
        break;
      }
      case 'append': {
        const out = new Uint8Array(bytes.length + m.bytes.length);
        out.set(bytes);
        out.set(m.bytes, bytes.length);
        bytes = out;
        break;
      }
    }
  }
  return bytes;
}

/** Integers a forged length, count, dimension or offset likes to be. */
const EDGE_NUMBERS = [0, 1, 2, 3, 4, 7, 8, 255, 256, 2 ** 16, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 60];
const forgedNumber = fc.oneof(
  fc.constantFrom(...EDGE_NUMBERS),
  fc.constantFrom(-1, -0, 0.5, 1e308, -(2 ** 31)),
  fc.integer({ min: 0, max: 4096 }),
  fc.integer(),
);
const forgedU32 = fc.oneof(fc.constantFrom(0, 1, 2, 10, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff), fc.nat({ max: 64 }), fc.nat());

// ---------------------------------------------------------------------------------------------------
// safetensors

function lcgData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

const tensorNameArb = fc.oneof(
  fc.constantFrom('l1.weight', 'l1.bias', 'w', '0', '10', '__proto__', 'constructor', 'a\nb', 'x'.repeat(300)),
  fc.string({ minLength: 1, maxLength: 8 }),
);
const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 });
const tensorsArb = fc.uniqueArray(fc.tuple(tensorNameArb, shapeArb, fc.nat()), { selector: (t) => t[0], maxLength: 4 }).map((list) =>
  list
    .filter(([name]) => name !== '__metadata__')
    .map(([name, shape, seed]): [string, Tensor] => [
      name,
      {
        shape,
        data: lcgData(
          shape.reduce((a, b) => a * b, 1),
          seed,
        ),
      },
    ]),
);
const metadataArb = fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 12 }), { maxKeys: 3 }), { nil: undefined });
const safetensorsArb = fc
  .record({ tensors: tensorsArb, metadata: metadataArb })
  .map(({ tensors, metadata }) => encodeSafetensors(tensors, metadata));

/** The header of a valid file, as JSON, and its data section. */
function splitSafetensors(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return {
    header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>,
    data: bytes.subarray(8 + n),
  };
}

function joinSafetensors(headerText: string, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A decoded file is valid when every tensor holds exactly its shape's values and nothing was invented. */
function checkDecoded(bytes: Uint8Array, decoded: { tensors: Map<string, Tensor>; metadata: Record<string, string> }): void {
  let floats = 0;
  for (const [name, t] of decoded.tensors) {
    expect(t.data, name).toBeInstanceOf(Float32Array);
    expect(
      t.shape.every((d) => Number.isSafeInteger(d) && d >= 0),
      name,
    ).toBe(true);
    expect(t.data.length, name).toBe(t.shape.reduce((a, b) => a * b, 1));
    floats += t.data.length;
  }
  // Tensors do not share bytes, so together they cannot hold more values than the file has room for.
  expect(floats * 4).toBeLessThanOrEqual(bytes.length);
  for (const value of Object.values(decoded.metadata)) expect(typeof value).toBe('string');
}

type HeaderEdit =
  | { kind: 'field'; tensor: number; field: string; value: unknown }
  | { kind: 'shape'; tensor: number; dims: number[] }
  | { kind: 'offsets'; tensor: number; begin: number; end: number }
  | { kind: 'alias'; tensor: number; copies: number }
  | { kind: 'metadata'; value: unknown };

const jsonish = fc.oneof(
  forgedNumber,
  fc.constantFrom(null, true, false, '', '3', 'F32', 'F64', 'F16', 'BF16', 'I64', [], {}, [2], [0, 4]),
  fc.array(forgedNumber, { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const headerEditArb: fc.Arbitrary<HeaderEdit> = fc.oneof(
  fc.record({
    kind: fc.constant('field' as const),
    tensor: fc.nat(),
    field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra', '__proto__'),
    value: jsonish,
  }),
  fc.record({ kind: fc.constant('shape' as const), tensor: fc.nat(), dims: fc.array(forgedNumber, { maxLength: 5 }) }),
  fc.record({ kind: fc.constant('offsets' as const), tensor: fc.nat(), begin: forgedNumber, end: forgedNumber }),
  // The same bytes claimed by many tensors: each copy would be a fresh allocation.
  fc.record({ kind: fc.constant('alias' as const), tensor: fc.nat(), copies: fc.integer({ min: 1, max: 64 }) }),
  // Mostly objects (so the tensor edits above still get looked at), sometimes anything.
  fc.record({
    kind: fc.constant('metadata' as const),
    value: fc.oneof({ arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), jsonish, { maxKeys: 3 }), weight: 3 }, jsonish),
  }),
);

function editHeader(header: Record<string, unknown>, edits: readonly HeaderEdit[]): Record<string, unknown> {
  const out = structuredClone(header);
  const names = () => Object.keys(out).filter((k) => k !== '__metadata__');
  for (const e of edits) {
    if (e.kind === 'metadata') {
      out.__metadata__ = e.value;
      continue;
    }
    const list = names();
    if (list.length === 0) out.t = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
    const name = names()[e.tensor % names().length]!;
    const entry = out[name];
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue;
    const fields = entry as Record<string, unknown>;
    if (e.kind === 'field')
      Object.defineProperty(fields, e.field, { value: e.value, enumerable: true, writable: true, configurable: true });
    else if (e.kind === 'shape') fields.shape = e.dims;
    else if (e.kind === 'offsets') fields.data_offsets = [e.begin, e.end];
    else for (let c = 0; c < e.copies; c++) out[`${name}#${c}`] = structuredClone(fields);
  }
  return out;
}

describe('fuzz: safetensors decoder', () => {
  it('round-trips what the encoder writes', () => {
    fc.assert(
      fc.property(safetensorsArb, (bytes) => {
        const out = attempt(allowance(bytes.length), () => decodeSafetensors(bytes, 'f.safetensors'));
        expect(out.ok).toBe(true);
        if (out.ok) checkDecoded(bytes, out.value);
      }),
      settings(1, 300),
    );
  });

  it('truncated, bit-flipped, spliced files: valid data or InputError', () => {
    fc.assert(
      fc.property(safetensorsArb, mutationsArb, (good, mutations) => {
        const bytes = mutate(good, mutations);
        const out = attempt(allowance(bytes.length), () => decodeSafetensors(bytes, 'f.safetensors'));
        if (out.ok) checkDecoded(bytes, out.value);
        else expect(out.error.message.startsWith('f.safetensors')).toBe(true);
      }),
      settings(2, 10000),
    );
  });

  it('forged header length (u64): InputError before any allocation it names', () => {
    const lengthArb = fc.oneof(
      fc.constantFrom(
        0n,
        1n,
        2n ** 31n,
        2n ** 32n - 1n,
        2n ** 32n,
        2n ** 53n,
        2n ** 60n,
        2n ** 63n,
        2n ** 64n - 1n,
        100_000_000n,
        100_000_001n,
      ),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.integer({ min: -16, max: 16 }).map((d) => BigInt(d)),
    );
    fc.assert(
      fc.property(safetensorsArb, lengthArb, fc.boolean(), (good, forged, relative) => {
        const bytes = good.slice();
        const dv = new DataView(bytes.buffer);
        const value = relative ? dv.getBigUint64(0, true) + forged : forged;
        if (value < 0n || value >= 2n ** 64n) return;
        dv.setBigUint64(0, value, true);
        const out = attempt(allowance(bytes.length), () => decodeSafetensors(bytes, 'f.safetensors'));
        if (out.ok) checkDecoded(bytes, out.value);
      }),
      settings(3, 5000),
    );
  });

  it('forged header fields (huge shapes and offsets, wrong types, aliased data): valid data or InputError', () => {
    fc.assert(
      fc.property(safetensorsArb, fc.array(headerEditArb, { minLength: 1, maxLength: 4 }), fc.boolean(), (good, edits, pad) => {
        const { header, data } = splitSafetensors(good);
        let text = JSON.stringify(editHeader(header, edits));
        if (pad) while (text.length % 8 !== 0) text += ' ';
        const bytes = joinSafetensors(text, data);
        const out = attempt(allowance(bytes.length), () => decodeSafetensors(bytes, 'f.safetensors'));
        if (out.ok) checkDecoded(bytes, out.value);
      }),
      settings(4, 6000),
    );
  });

  it('headers written from scratch with forged values: valid data or InputError', () => {
    const entryArb = fc.record(
      {
        dtype: fc.oneof(fc.constantFrom('F32', 'F64', 'F16', 'U8'), fc.string({ maxLength: 4 })),
        shape: fc.array(forgedNumber, { maxLength: 4 }),
        data_offsets: fc.array(forgedNumber, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.dictionary(tensorNameArb, entryArb, { maxKeys: 6 }), fc.uint8Array({ maxLength: 256 }), (header, data) => {
        const bytes = joinSafetensors(JSON.stringify(header), data);
        const out = attempt(allowance(bytes.length), () => decodeSafetensors(bytes, 'f.safetensors'));
        if (out.ok) checkDecoded(bytes, out.value);
      }),
      settings(5, 8000),
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Checkpoints

const layersArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 });
const checkpointArb = fc
  .record({
    layers: layersArb,
    seed: fc.nat(),
    epoch: fc.nat({ max: 9 }),
    step: fc.nat({ max: 99 }),
    rng: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  })
  .map(({ layers, seed, epoch, step, rng }) => {
    const layout = paramLayout(layers);
    const config: CheckpointConfig = {
      layers,
      optimizer: sgd({ lr: 0.01, momentum: 0.5 }),
      schedule: CONSTANT_LR,
      batchSize: 64,
      seed: seed % 1000,
      shuffle: true,
    };
    const state = {
      layers,
      weights: lcgData(layout.totalFloats, seed),
      optimizerState: [lcgData(layout.totalFloats, seed + 1)],
      epoch,
      stepInEpoch: step,
      globalStep: epoch * 100 + step,
      epochRngState: Uint32Array.from(rng.map((w) => w >>> 0)),
    };
    return encodeCheckpoint(state, config);
  });

/** A decoded checkpoint is valid when its config is a checkpoint config and its tensors fit its layers, all finite. */
function checkCheckpoint(decoded: ReturnType<typeof decodeCheckpoint>): void {
  const { config, state } = decoded;
  const keys: (keyof CheckpointConfig)[] = ['layers', 'optimizer', 'schedule', 'batchSize', 'seed', 'shuffle'];
  expect(Object.keys(config).sort()).toEqual([...keys].sort());
  expect(config.layers.every((n) => Number.isSafeInteger(n) && n >= 1)).toBe(true);
  expect(Number.isSafeInteger(config.batchSize) && config.batchSize >= 1).toBe(true);
  for (const k of ['lr', 'weightDecay'] as const) expect(Number.isFinite(config.optimizer[k]), k).toBe(true);
  expect(Number.isSafeInteger(config.seed)).toBe(true);
  expect(typeof config.shuffle).toBe('boolean');
  const layout = paramLayout(config.layers);
  expect(state.layers).toEqual(config.layers);
  expect(state.weights.length).toBe(layout.totalFloats);
  expect(state.optimizerState.map((b) => b.length)).toEqual([layout.totalFloats]);
  expect(state.weights.every(Number.isFinite) && state.optimizerState.every((b) => b.every(Number.isFinite))).toBe(true);
  expect(state.epochRngState.length).toBe(4);
  for (const v of [state.epoch, state.stepInEpoch, state.globalStep]) expect(Number.isSafeInteger(v) && v >= 0).toBe(true);
}

type MetadataEdit = { key: string; value: string };
const configTextArb = fc.oneof(
  fc.constantFrom('', 'null', '[]', '{}', '"x"', '1', '{"layers":null}', '{"layers":"abc"}', '{"layers":[4,2]}', '{"layers":[1e300,2]}'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .record({
      key: fc.constantFrom(
        'layers',
        'batchSize',
        'lr',
        'momentum',
        'weightDecay',
        'optimizer',
        'seed',
        'shuffle',
        'tuning',
        'evalBatchSize',
        'epochs',
        '__proto__',
      ),
      value: jsonish,
    })
    .map(({ key, value }) => ({ key, value })),
);
const metadataEditArb: fc.Arbitrary<MetadataEdit | { config: unknown }> = fc.oneof(
  fc.record({
    key: fc.constantFrom('format', 'config', 'epoch', 'step_in_epoch', 'global_step', 'rng_state'),
    value: fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom(
        '',
        '0',
        '-1',
        '1e21',
        '9007199254740993',
        'NaN',
        '0x10',
        '1,2,3',
        '1,2,3,4',
        '1,2,3,4294967296',
        ' 1, 2,3 ,4',
        'webgpu-mnist-checkpoint/1',
      ),
    ),
  }),
  fc.record({ config: configTextArb }),
);

function editCheckpoint(good: Uint8Array, edits: readonly (MetadataEdit | { config: unknown })[]): Uint8Array {
  const { header, data } = splitSafetensors(good);
  const metadata = { ...(header.__metadata__ as Record<string, string>) };
  for (const e of edits) {
    if ('key' in e) {
      metadata[e.key] = e.value;
    } else if (typeof e.config === 'string') {
      metadata.config = e.config;
    } else {
      const { key, value } = e.config as { key: string; value: unknown };
      let config: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse(metadata.config ?? '');
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) config = parsed as Record<string, unknown>;
      } catch {
        // an earlier edit left text that is not JSON; edit a fresh object
      }
      Object.defineProperty(config, key, { value, enumerable: true, writable: true, configurable: true });
      metadata.config = JSON.stringify(config);
    }
  }
  return joinSafetensors(JSON.stringify({ ...header, __metadata__: metadata }), data);
}

describe("fuzz: weights loading (--init, the page's Load)", () => {
  /** What the CLI does with --init: decode, infer the layers from the names, check and flatten. */
  const load = (bytes: Uint8Array) => {
    const { tensors } = decodeSafetensors(bytes, 'w.safetensors');
    const layers = layersOfStateDict(tensors);
    if (!layers) return undefined;
    return flatFromStateDict(paramLayout(layers), tensors, 'w.safetensors');
  };
  const weightsArb = fc
    .record({ layers: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 }), seed: fc.nat() })
    .map(({ layers, seed }) => {
      const layout = paramLayout(layers);
      return encodeSafetensors(stateDictFromFlat(layout, lcgData(layout.totalFloats, seed)));
    });

  it('mutated and forged weight files: finite weights of the named layers, or InputError', () => {
    fc.assert(
      fc.property(
        weightsArb,
        fc.option(mutationsArb, { nil: undefined }),
        fc.array(headerEditArb, { maxLength: 3 }),
        (good, mutations, edits) => {
          const { header, data } = splitSafetensors(good);
          const edited = edits.length === 0 ? good : joinSafetensors(JSON.stringify(editHeader(header, edits)), data);
          const bytes = mutations === undefined ? edited : mutate(edited, mutations);
          const out = attempt(allowance(bytes.length), () => load(bytes));
          if (out.ok && out.value !== undefined) expect(out.value.every(Number.isFinite)).toBe(true);
        },
      ),
      settings(8, 4000),
    );
  });
});

describe('fuzz: checkpoint decoder', () => {
  it('round-trips what the encoder writes', () => {
    fc.assert(
      fc.property(checkpointArb, (bytes) => {
        const out = attempt(allowance(bytes.length), () => decodeCheckpoint(bytes, 'ckpt'));
        expect(out.ok).toBe(true);
        if (out.ok) checkCheckpoint(out.value);
      }),
      settings(11, 200),
    );
  });

  it('truncated, bit-flipped, spliced checkpoints: valid data or InputError', () => {
    fc.assert(
      fc.property(checkpointArb, mutationsArb, (good, mutations) => {
        const bytes = mutate(good, mutations);
        const out = attempt(allowance(bytes.length), () => decodeCheckpoint(bytes, 'ckpt'));
        if (out.ok) checkCheckpoint(out.value);
        else expect(out.error.message.startsWith('ckpt')).toBe(true);
      }),
      settings(12, 6000),
    );
  });

  it('forged metadata (config, position, RNG state): valid data or InputError', () => {
    fc.assert(
      fc.property(checkpointArb, fc.array(metadataEditArb, { minLength: 1, maxLength: 3 }), (good, edits) => {
        const bytes = editCheckpoint(good, edits);
        const out = attempt(allowance(bytes.length), () => decodeCheckpoint(bytes, 'ckpt'));
        if (out.ok) checkCheckpoint(out.value);
      }),
      settings(13, 6000),
    );
  });

  it('forged tensor headers in a checkpoint: valid data or InputError', () => {
    fc.assert(
      fc.property(checkpointArb, fc.array(headerEditArb, { minLength: 1, maxLength: 3 }), (good, edits) => {
        const { header, data } = splitSafetensors(good);
        const bytes = joinSafetensors(JSON.stringify(editHeader(header, edits)), data);
        const out = attempt(allowance(bytes.length), () => decodeCheckpoint(bytes, 'ckpt'));
        if (out.ok) checkCheckpoint(out.value);
      }),
      settings(14, 4000),
    );
  });

  it('a non-finite weight or momentum value is refused naming the tensor and index', () => {
    fc.assert(
      fc.property(checkpointArb, fc.nat(), fc.constantFrom(Number.NaN, Infinity, -Infinity), (good, pick, bad) => {
        const { header, data } = splitSafetensors(good);
        const names = Object.keys(header).filter((k) => k !== '__metadata__');
        const name = names[pick % names.length]!;
        const [begin, end] = (header[name] as { data_offsets: [number, number] }).data_offsets;
        const count = (end - begin) / 4;
        const index = Math.floor(pick / names.length) % count;
        const poisoned = data.slice();
        new DataView(poisoned.buffer).setFloat32(begin + index * 4, bad, true);
        const out = attempt(allowance(good.length), () => decodeCheckpoint(joinSafetensors(JSON.stringify(header), poisoned), 'ckpt'));
        expect(out.ok).toBe(false);
        if (!out.ok) expect(out.error.message).toBe(`ckpt: ${name}[${index}] is ${String(bad)}`);
      }),
      settings(15, 1000),
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// IDX and gzip

function u32be(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, v, false));
  return out;
}

function idxImages(count: number, rows: number, cols: number, seed: number): Uint8Array {
  const out = new Uint8Array(16 + count * rows * cols);
  out.set(u32be(0x803, count, rows, cols));
  for (let i = 16; i < out.length; i++) out[i] = (i * 131 + seed) & 0xff;
  return out;
}

function idxLabels(count: number, seed: number): Uint8Array {
  const out = new Uint8Array(8 + count);
  out.set(u32be(0x801, count));
  for (let i = 8; i < out.length; i++) out[i] = (i * 7 + seed) % 10;
  return out;
}

const imagesArb = fc.record({
  count: fc.nat({ max: 6 }),
  rows: fc.integer({ min: 1, max: 5 }),
  cols: fc.integer({ min: 1, max: 5 }),
  seed: fc.nat(),
});

type U32Edit = { field: number; value: number };
const u32EditArb: fc.Arbitrary<U32Edit> = fc.record({ field: fc.nat({ max: 3 }), value: forgedU32 });

function forgeU32(bytes: Uint8Array, edits: readonly U32Edit[]): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  for (const e of edits) if (e.field * 4 + 4 <= out.length) dv.setUint32(e.field * 4, e.value, false);
  return out;
}

function checkImages(bytes: Uint8Array, images: ReturnType<typeof parseIdxImages>, rows: number, cols: number): void {
  expect(images.rows).toBe(rows);
  expect(images.cols).toBe(cols);
  expect(images.pixels.length).toBe(images.count * rows * cols);
  expect(images.pixels.length).toBe(bytes.length - 16);
}

function checkLabels(bytes: Uint8Array, labels: Uint8Array): void {
  expect(labels.length).toBe(bytes.length - 8);
  expect(labels.every((l) => l <= 9)).toBe(true);
}

describe('fuzz: IDX parsers', () => {
  it('images and labels, truncated, bit-flipped, with forged counts and sizes: valid data or InputError', () => {
    fc.assert(
      fc.property(imagesArb, mutationsArb, fc.array(u32EditArb, { maxLength: 2 }), fc.boolean(), (shape, mutations, forged, labels) => {
        const { count, rows, cols, seed } = shape;
        const good = labels ? idxLabels(count, seed) : idxImages(count, rows, cols, seed);
        const bytes = forgeU32(mutate(good, mutations), forged);
        if (labels) {
          const out = attempt(allowance(bytes.length), () => parseIdxLabels(bytes, 'l.idx'));
          if (out.ok) checkLabels(bytes, out.value);
        } else {
          const out = attempt(allowance(bytes.length), () => parseIdxImages(bytes, 'i.idx', { rows, cols }));
          if (out.ok) checkImages(bytes, out.value, rows, cols);
        }
      }),
      settings(21, 10000),
    );
  });

  it('a forged count (up to 2^32-1) with a short file is refused without allocating', () => {
    fc.assert(
      fc.property(imagesArb, forgedU32, fc.boolean(), ({ count, seed }, forged, labels) => {
        const good = labels ? idxLabels(count, seed) : idxImages(count, 28, 28, seed);
        const bytes = forgeU32(good, [{ field: 1, value: forged }]);
        const out = attempt(allowance(bytes.length), () => (labels ? parseIdxLabels(bytes, 'x') : parseIdxImages(bytes, 'x')));
        expect(out.ok).toBe(forged === count);
      }),
      settings(22, 3000),
    );
  });
});

/** The four MNIST files in memory, small, all 28x28. */
function mnistFiles(trainCount: number, testCount: number, seed: number): Map<string, Uint8Array> {
  return new Map([
    [MNIST_FILES.trainImages, idxImages(trainCount, 28, 28, seed)],
    [MNIST_FILES.trainLabels, idxLabels(trainCount, seed)],
    [MNIST_FILES.testImages, idxImages(testCount, 28, 28, seed + 1)],
    [MNIST_FILES.testLabels, idxLabels(testCount, seed + 1)],
  ]);
}

describe('fuzz: gzip + IDX loading', () => {
  it('corrupt gzip streams through loadMnist: valid data or InputError, no hang', async () => {
    const fileArb = fc.constantFrom(...Object.values(MNIST_FILES));
    await fc.assert(
      fc.asyncProperty(
        fc.record({ train: fc.nat({ max: 3 }), test: fc.nat({ max: 2 }), seed: fc.nat() }),
        fileArb,
        mutationsArb,
        fc.boolean(),
        async ({ train, test, seed }, target, mutations, gzipAll) => {
          const files = new Map<string, Uint8Array>();
          for (const [base, raw] of mnistFiles(train, test, seed)) {
            const gz = base === target || gzipAll;
            const stored = gz ? new Uint8Array(gzipSync(raw)) : raw;
            files.set(gz ? `${base}.gz` : base, base === target ? mutate(stored, mutations) : stored);
          }
          const inputBytes = [...files.values()].reduce((n, b) => n + b.length, 0);
          const read = async (fileName: string) => files.get(fileName) ?? null;
          // Decompression may legitimately grow the data; deflate cannot grow it more than ~1032x.
          const out = await attemptAsync<MnistLike>(allowance(inputBytes, 1100), () => loadMnist(read, 'mem'));
          if (out.ok) {
            for (const split of [out.value.train, out.value.test]) {
              expect(split.features.length).toBe(split.count * 784);
              expect(split.labels.length).toBe(split.count);
              expect(split.labels.every((l) => l <= 9)).toBe(true);
            }
          }
        },
      ),
      settings(31, 2000),
    );
  });

  it('a gzip bomb stops at the size limit instead of filling memory', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 << 20 }),
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.integer({ min: 0, max: 255 }),
        async (size, limit, fill) => {
          const gz = new Uint8Array(gzipSync(new Uint8Array(size).fill(fill), { level: 9 }));
          // Past the limit only by what one decompressed chunk adds before the check sees it.
          const out = await attemptAsync(limit + 256 * 1024, () => gunzipIfNeeded(gz, 'bomb.gz', limit));
          if (size <= limit) {
            expect(out.ok).toBe(true);
            if (out.ok) expect(out.value.length).toBe(size);
          } else {
            expect(out.ok).toBe(false);
            if (!out.ok) expect(out.error.message).toContain(`bomb.gz: decompresses to more than ${limit} bytes`);
          }
        },
      ),
      settings(32, 60),
    );
  });
});
