/**
 * The safetensors format, for browser and Node: an 8-byte little-endian u64 header length N,
 * N bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}`
 * (padded with spaces to a multiple of 8), then the tensor data, offsets relative to its start.
 *
 * Written tensors are always F32. Read tensors may be F32, or F64 which is narrowed to F32
 * (numpy's default dtype); F16, BF16 and integer dtypes are rejected with a message naming them.
 */
import { InputError } from '../../runtime/errors.ts';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

const METADATA_KEY = '__metadata__';
/** The reference (Rust) implementation refuses headers over 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;
const ITEM_BYTES: ReadonlyMap<string, number> = new Map([
  ['F32', 4],
  ['F64', 8],
]);
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Names from a file are cut to this many characters in messages, which stay one short line. */
const MAX_SHOWN_NAME = 80;

/** A name from a file, quoted only if it would break the one-line message, and cut if it is long. */
function show(name: string): string {
  // Control characters are exactly what this looks for.
  // eslint-disable-next-line no-control-regex
  const shown = /[\u0000-\u001f\u007f\u2028\u2029]/.test(name) ? JSON.stringify(name) : name;
  // A file can name a tensor with a megabyte of text; the message needs only enough of it to recognise.
  return shown.length > MAX_SHOWN_NAME ? `${shown.slice(0, MAX_SHOWN_NAME)}... (${name.length} characters)` : shown;
}

/** One line, short: error details from JSON.parse may quote the input, newlines and all. */
function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/**
 * Serializes F32 tensors (in the given order) and optional string metadata to safetensors bytes,
 * byte-compatible with what the Rust/Python writers produce for the same header order.
 */
export function encodeSafetensors(tensors: Map<string, Tensor> | [string, Tensor][], metadata?: Record<string, string>): Uint8Array {
  const entries = [...tensors];
  const seen = new Set<string>();
  const headerParts: string[] = [];
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new InputError(`safetensors metadata ${show(key)} is not a string`);
    }
    headerParts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (name === METADATA_KEY) throw new InputError(`safetensors: ${METADATA_KEY} cannot be a tensor name`);
    if (seen.has(name)) throw new InputError(`safetensors: tensor ${show(name)} given twice`);
    seen.add(name);
    if (!isShape(tensor.shape)) {
      throw new InputError(`safetensors: tensor ${show(name)} has invalid shape ${formatShape(tensor.shape)}`);
    }
    const count = product(tensor.shape);
    if (tensor.data.length !== count) {
      throw new InputError(
        `safetensors: tensor ${show(name)} has ${tensor.data.length} values, shape ${formatShape(tensor.shape)} needs ${count}`,
      );
    }
    const end = offset + count * 4;
    // Field order (dtype, shape, data_offsets) and compact JSON match the Rust writer.
    const info = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, end] };
    // Built by hand rather than as one object: JS objects move integer-like keys ("0") to the front.
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${headerParts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const [, tensor] of entries) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), at);
    } else {
      for (let i = 0; i < tensor.data.length; i++) dv.setFloat32(at + i * 4, tensor.data[i]!, true);
    }
    at += tensor.data.byteLength;
  }
  return out;
}

/**
 * Reads a safetensors file; every tensor comes back as a fresh Float32Array, in the order of
 * their data in the file. `name` (the file) starts every error message.
 */
export function decodeSafetensors(bytes: Uint8Array, name: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) {
    throw new InputError(`${name}: ${bytes.length} bytes is too short for a safetensors file (needs an 8-byte header length)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = dv.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new InputError(`${name}: safetensors header length ${headerLength} is absurdly large; not a safetensors file?`);
  }
  const n = Number(headerLength);
  if (8 + n > bytes.length) {
    throw new InputError(`${name}: safetensors header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  }
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new InputError(`${name}: safetensors header is not valid JSON (${oneLine(detail)})`, { cause: err });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new InputError(`${name}: safetensors header is not a JSON object`);
  }

  const metadataEntries: [string, string][] = [];
  const rawMetadata = (header as Record<string, unknown>)[METADATA_KEY];
  if (rawMetadata !== undefined) {
    if (typeof rawMetadata !== 'object' || rawMetadata === null || Array.isArray(rawMetadata)) {
      throw new InputError(`${name}: safetensors ${METADATA_KEY} is not an object`);
    }
    for (const [key, value] of Object.entries(rawMetadata)) {
      if (typeof value !== 'string') throw new InputError(`${name}: safetensors metadata ${show(key)} is not a string`);
      metadataEntries.push([key, value]);
    }
  }

  const data = bytes.subarray(8 + n);
  // Every entry is checked against the bytes actually there before anything is allocated.
  const entries: { name: string; begin: number; end: number; shape: number[]; count: number; dtype: string }[] = [];
  for (const [tensorName, raw] of Object.entries(header)) {
    if (tensorName === METADATA_KEY) continue;
    const where = `${name}: tensor ${show(tensorName)}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`${where} is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new InputError(`${where} has no dtype`);
    if (!isShape(shape)) throw new InputError(`${where} has no valid shape (a list of non-negative integers)`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new InputError(`${where} has no valid data_offsets (two non-negative integers)`);
    }
    const itemBytes = ITEM_BYTES.get(dtype);
    if (itemBytes === undefined) {
      throw new InputError(`${where} has dtype ${show(dtype)}; only F32 (and F64, read as F32) are supported, save it as float32`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new InputError(`${where} has data_offsets [${begin},${end}] with end before begin`);
    if (end > data.length) {
      throw new InputError(`${where} has data_offsets [${begin},${end}] past the end of the data (${data.length} bytes)`);
    }
    const count = product(shape);
    if (end - begin !== count * itemBytes) {
      throw new InputError(
        `${where} has ${end - begin} bytes of data, but shape ${formatShape(shape)} of ${dtype} needs ${count * itemBytes}`,
      );
    }
    entries.push({ name: tensorName, begin, end, shape: [...shape], count, dtype });
  }
  // In data order, which is the order they were written in; header key order is lost to JSON.parse
  // (integer-like keys move first) and the Rust writer does not keep it anyway.
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  // Tensors may not share bytes (the Rust reader requires them back to back). Without this a small file
  // could name the same megabyte a thousand times over and make us allocate a gigabyte of copies; with
  // it, what we allocate is bounded by the file's length.
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1]!;
    const at = entries[i]!;
    if (at.begin < prev.end) {
      throw new InputError(
        `${name}: tensor ${show(at.name)} (data_offsets [${at.begin},${at.end}]) overlaps tensor ${show(prev.name)} ([${prev.begin},${prev.end}])`,
      );
    }
  }
  const parsed = entries.map((e) => ({ name: e.name, tensor: { shape: e.shape, data: readValues(data, e.begin, e.count, e.dtype) } }));
  const tensors = new Map(parsed.map((p) => [p.name, p.tensor] as const));
  return { tensors, metadata: Object.fromEntries(metadataEntries) };
}

/** Copies `count` little-endian values starting at byte `begin` (any alignment) into a new Float32Array. */
function readValues(data: Uint8Array, begin: number, count: number, dtype: string): Float32Array {
  const out = new Float32Array(count);
  if (dtype === 'F32' && LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(data.subarray(begin, begin + count * 4));
    return out;
  }
  const dv = new DataView(data.buffer, data.byteOffset + begin, count * (dtype === 'F64' ? 8 : 4));
  for (let i = 0; i < count; i++) out[i] = dtype === 'F64' ? dv.getFloat64(i * 8, true) : dv.getFloat32(i * 4, true);
  return out;
}

/**
 * Throws InputError naming the tensor and flat index of the first NaN or ±Inf, as in
 * `w.safetensors: l3.weight[1234] is NaN`. Weights loaded from a file must be finite: a NaN weight
 * would not show in the loss (a ReLU can hide it) but spread through every update.
 */
export function checkFinite(tensors: Map<string, Tensor>, name: string): void {
  for (const [tensorName, t] of tensors) {
    const data = t.data;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      // v - v is 0 for every finite value and NaN for NaN and ±Inf: one comparison in the common case.
      if (v - v !== 0) throw new InputError(`${name}: ${show(tensorName)}[${i}] is ${String(v)}`);
    }
  }
}

/**
 * Checks a decoded state dict has exactly the expected tensors with the expected shapes, all finite;
 * throws InputError naming `name` and the first problem (missing, wrong shape, unexpected tensor, or a
 * NaN or ±Inf value).
 */
export function checkStateDict(tensors: Map<string, Tensor>, expected: { name: string; shape: number[] }[], name: string): void {
  const expectedList = expected.map((e) => `${show(e.name)} ${formatShape(e.shape)}`).join(', ');
  for (const want of expected) {
    const have = tensors.get(want.name);
    if (have === undefined) {
      throw new InputError(`${name}: missing tensor ${show(want.name)} (expected ${expectedList})`);
    }
    const same = have.shape.length === want.shape.length && have.shape.every((d, i) => d === want.shape[i]);
    if (!same) {
      throw new InputError(`${name}: ${show(want.name)} has shape ${formatShape(have.shape)}, expected ${formatShape(want.shape)}`);
    }
  }
  const wanted = new Set(expected.map((e) => e.name));
  for (const tensorName of tensors.keys()) {
    if (!wanted.has(tensorName)) {
      throw new InputError(`${name}: unexpected tensor ${show(tensorName)} (expected only ${expectedList})`);
    }
  }
  checkFinite(tensors, name);
}
