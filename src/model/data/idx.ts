/**
 * IDX files (MNIST's format, and Fashion-MNIST's and KMNIST's), optionally gzip-compressed, for
 * browser and Node alike. File access is left to the caller, so nothing here touches `node:*`.
 */
import { InputError } from '../../runtime/errors.ts';
import { datasetFrom, type Dataset, type Normalization } from './dataset.ts';

const IDX_IMAGES_MAGIC = 0x00000803; // unsigned byte, 3 dimensions
const IDX_LABELS_MAGIC = 0x00000801; // unsigned byte, 1 dimension
const IMAGES_HEADER_BYTES = 16;
const LABELS_HEADER_BYTES = 8;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count*rows*cols bytes, image-major then row-major; a view into the input bytes, not a copy */
  pixels: Uint8Array;
}

/**
 * The most a gzip file may decompress to. Deflate reaches ~1000:1, so a 10 MB file can claim 10 GB and
 * nothing in the stream bounds it beforehand (the ISIZE trailer is just another field a file can forge),
 * so decompression stops here instead. 1 GiB is well above any 28x28 IDX set (MNIST's train images are
 * 47 MB, EMNIST ByClass's 547 MB) and still small enough to hold.
 */
export const MAX_GUNZIP_BYTES = 2 ** 30;

/** Decompresses `bytes` if they start with the gzip magic (1f 8b); otherwise returns them unchanged. */
export async function gunzipIfNeeded(bytes: Uint8Array, name: string, maxBytes = MAX_GUNZIP_BYTES): Promise<Uint8Array> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new DecompressionStream('gzip');
  const writer = stream.writable.getWriter();
  // Streams take only ArrayBuffer-backed views; copy in the rare SharedArrayBuffer case.
  const input = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  const written = writer.write(input).then(() => writer.close());
  // A corrupt stream rejects both sides; the read loop below reports it, so keep this one from going unhandled.
  written.catch(() => {});
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let tooLarge = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        tooLarge = true;
        // Stops the decompressor; the pending write then rejects, which `written.catch` above absorbs.
        await reader.cancel();
        break;
      }
      chunks.push(value);
    }
    if (!tooLarge) await written;
  } catch (err) {
    throw new InputError(`${name}: corrupt or truncated gzip data`, { cause: err });
  }
  if (tooLarge) throw new InputError(`${name}: decompresses to more than ${maxBytes} bytes; not a data set file?`);
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads the magic and checks it; the caller has checked there are at least 4 bytes. */
function checkMagic(bytes: Uint8Array, name: string, expected: number, kind: string): void {
  const magic = view(bytes).getUint32(0, false);
  if (magic !== expected) {
    throw new InputError(`${name}: is not an IDX ${kind} file (magic ${hex32(magic)}, expected ${hex32(expected)})`);
  }
}

function checkLength(bytes: Uint8Array, name: string, expected: number, what: string): void {
  if (bytes.length < expected) {
    throw new InputError(`${name}: truncated: ${what} need ${expected} bytes, the file has ${bytes.length}`);
  }
  if (bytes.length > expected) {
    throw new InputError(`${name}: ${bytes.length - expected} unexpected trailing bytes after ${what} (${expected} bytes)`);
  }
}

/** Parses an (uncompressed) IDX3 unsigned-byte image file and checks each image is `expect` (default 28x28). */
export function parseIdxImages(
  bytes: Uint8Array,
  name: string,
  expect: { readonly rows: number; readonly cols: number } | null = { rows: 28, cols: 28 },
): IdxImages {
  if (bytes.length < 4) throw new InputError(`${name}: is not an IDX image file (only ${bytes.length} bytes)`);
  checkMagic(bytes, name, IDX_IMAGES_MAGIC, 'image');
  if (bytes.length < IMAGES_HEADER_BYTES) {
    throw new InputError(`${name}: truncated IDX header (${bytes.length} bytes, expected ${IMAGES_HEADER_BYTES})`);
  }
  const dv = view(bytes);
  const count = dv.getUint32(4, false);
  const rows = dv.getUint32(8, false);
  const cols = dv.getUint32(12, false);
  if (rows === 0 || cols === 0) throw new InputError(`${name}: images are ${rows}x${cols}`);
  if (expect && (rows !== expect.rows || cols !== expect.cols)) {
    throw new InputError(`${name}: images are ${rows}x${cols}, expected ${expect.rows}x${expect.cols}`);
  }
  const size = IMAGES_HEADER_BYTES + count * rows * cols;
  checkLength(bytes, name, size, `${count} images of ${rows}x${cols}`);
  return { count, rows, cols, pixels: bytes.subarray(IMAGES_HEADER_BYTES) };
}

/** Parses an (uncompressed) IDX1 unsigned-byte label file and checks every label is a class index below `classes`. */
export function parseIdxLabels(bytes: Uint8Array, name: string, classes = 10): Uint8Array {
  if (bytes.length < 4) throw new InputError(`${name}: is not an IDX label file (only ${bytes.length} bytes)`);
  checkMagic(bytes, name, IDX_LABELS_MAGIC, 'label');
  if (bytes.length < LABELS_HEADER_BYTES) {
    throw new InputError(`${name}: truncated IDX header (${bytes.length} bytes, expected ${LABELS_HEADER_BYTES})`);
  }
  const count = view(bytes).getUint32(4, false);
  checkLength(bytes, name, LABELS_HEADER_BYTES + count, `${count} labels`);
  const labels = bytes.subarray(LABELS_HEADER_BYTES);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label >= classes) {
      throw new InputError(
        `${name}: label ${i} is ${label}, expected ${classes === 10 ? 'a digit 0..9' : `a class index in 0..${classes - 1}`}`,
      );
    }
  }
  return labels;
}

export interface IdxDatasetOptions {
  /** names the data set in errors; default the images file's name */
  readonly name?: string;
  /** the class count (labels must be below it); default 10 */
  readonly classes?: number;
  /** image size every image must have; default any */
  readonly shape?: { readonly rows: number; readonly cols: number };
  /** given, or computed from the images (mean/std over all pixels scaled to [0, 1]) */
  readonly normalization?: Normalization;
}

/**
 * A data set from an IDX image file and its IDX label file (each raw or gzip-compressed): u8
 * features, one image per sample, flattened row-major.
 */
export async function idxDataset(
  images: { readonly name: string; readonly bytes: Uint8Array },
  labels: { readonly name: string; readonly bytes: Uint8Array },
  o: IdxDatasetOptions = {},
): Promise<Dataset> {
  const [imageBytes, labelBytes] = await Promise.all([
    gunzipIfNeeded(images.bytes, images.name),
    gunzipIfNeeded(labels.bytes, labels.name),
  ]);
  const parsed = o.shape ? parseIdxImages(imageBytes, images.name, o.shape) : parseIdxImages(imageBytes, images.name, null);
  const classes = o.classes ?? 10;
  const labelValues = parseIdxLabels(labelBytes, labels.name, classes);
  if (parsed.count !== labelValues.length) {
    throw new InputError(`${images.name} has ${parsed.count} images but ${labels.name} has ${labelValues.length} labels`);
  }
  return datasetFrom({
    name: o.name ?? images.name,
    features: parsed.pixels,
    labels: labelValues,
    featureCount: parsed.rows * parsed.cols,
    classes,
    ...(o.normalization ? { normalization: o.normalization } : {}),
  });
}
