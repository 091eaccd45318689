/**
 * MNIST in its original IDX form (optionally gzip-compressed), for browser and Node alike.
 * File access is left to the caller (`loadMnist` takes a reader), so nothing here touches `node:*`.
 */
import { InputError } from '../../runtime/errors.ts';

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

export interface MnistSplit {
  /** count*784 bytes, each image 28x28 row-major, 0 = background, 255 = ink */
  images: Uint8Array;
  /** count bytes, each 0..9 */
  labels: Uint8Array;
  count: number;
}

export interface Mnist {
  train: MnistSplit;
  test: MnistSplit;
}

/** Base names of the four files; each may be stored as `<base>.gz` or uncompressed as `<base>`. */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** Size and MD5 of the canonical .gz files (the ones torchvision and TensorFlow download). */
export const MNIST_CHECKSUMS: Readonly<Record<string, { bytes: number; md5: string }>> = {
  'train-images-idx3-ubyte.gz': { bytes: 9912422, md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
  'train-labels-idx1-ubyte.gz': { bytes: 28881, md5: 'd53e105ee54ea40749a09fcbcd1e9432' },
  't10k-images-idx3-ubyte.gz': { bytes: 1648877, md5: '9fb629c4189551a2d022fa330f9573f3' },
  't10k-labels-idx1-ubyte.gz': { bytes: 4542, md5: 'ec29112dd5afa0611ce80d1b7f02629c' },
};

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
  expect: { rows: number; cols: number } = { rows: 28, cols: 28 },
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
  if (rows !== expect.rows || cols !== expect.cols) {
    throw new InputError(`${name}: images are ${rows}x${cols}, expected ${expect.rows}x${expect.cols}`);
  }
  const size = IMAGES_HEADER_BYTES + count * rows * cols;
  checkLength(bytes, name, size, `${count} images of ${rows}x${cols}`);
  return { count, rows, cols, pixels: bytes.subarray(IMAGES_HEADER_BYTES) };
}

/** Parses an (uncompressed) IDX1 unsigned-byte label file and checks every label is a digit 0..9. */
export function parseIdxLabels(bytes: Uint8Array, name: string): Uint8Array {
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
    if (label > 9) throw new InputError(`${name}: label ${i} is ${label}, expected a digit 0..9`);
  }
  return labels;
}

/** Reads `<base>.gz`, falling back to `<base>`; returns the name actually read and its (decompressed) bytes. */
async function readEither(
  read: (fileName: string) => Promise<Uint8Array | null>,
  base: string,
  where: string,
): Promise<{ file: string; bytes: Uint8Array }> {
  for (const file of [`${base}.gz`, base]) {
    const raw = await read(file);
    if (raw !== null) return { file, bytes: await gunzipIfNeeded(raw, file) };
  }
  throw new InputError(`MNIST file not found: looked for ${base}(.gz) in ${where}`);
}

async function loadSplit(
  read: (fileName: string) => Promise<Uint8Array | null>,
  where: string,
  split: string,
  imagesBase: string,
  labelsBase: string,
): Promise<MnistSplit> {
  // Settle both before reporting, so which error surfaces does not depend on timing.
  const [imagesFile, labelsFile] = await Promise.allSettled([readEither(read, imagesBase, where), readEither(read, labelsBase, where)]);
  if (imagesFile.status === 'rejected') throw imagesFile.reason;
  if (labelsFile.status === 'rejected') throw labelsFile.reason;
  const images = parseIdxImages(imagesFile.value.bytes, imagesFile.value.file);
  const labels = parseIdxLabels(labelsFile.value.bytes, labelsFile.value.file);
  if (images.count !== labels.length) {
    throw new InputError(
      `MNIST ${split} split: ${imagesFile.value.file} has ${images.count} images but ${labelsFile.value.file} has ${labels.length} labels`,
    );
  }
  return { images: images.pixels, labels, count: images.count };
}

/**
 * Loads the four MNIST files through `read` (which returns null for a file that is not there),
 * preferring `<base>.gz` over `<base>`. `where` names the place looked in, for error messages.
 * Counts are not forced to 60000/10000, so subsets load too.
 */
export async function loadMnist(read: (fileName: string) => Promise<Uint8Array | null>, where: string): Promise<Mnist> {
  const [train, test] = await Promise.allSettled([
    loadSplit(read, where, 'train', MNIST_FILES.trainImages, MNIST_FILES.trainLabels),
    loadSplit(read, where, 'test', MNIST_FILES.testImages, MNIST_FILES.testLabels),
  ]);
  if (train.status === 'rejected') throw train.reason;
  if (test.status === 'rejected') throw test.reason;
  return { train: train.value, test: test.value };
}
