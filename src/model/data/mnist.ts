/**
 * MNIST (and data sets in its layout: Fashion-MNIST, KMNIST): the four IDX files, read through a
 * caller-given reader so this works in a page (fetch, dropped files) and in Node (a directory).
 */
import { InputError } from '../../runtime/errors.ts';
import type { Dataset, Normalization } from './dataset.ts';
import { idxDataset } from './idx.ts';

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

/** torchvision's MNIST normalization, as the PyTorch tutorial uses (mean and std of the training pixels in [0, 1]). */
export const MNIST_NORMALIZATION: Normalization = Object.freeze({ mean: 0.1307, std: 0.3081 });

export const MNIST_SHAPE = Object.freeze({ rows: 28, cols: 28 });

export interface MnistLike {
  readonly train: Dataset;
  readonly test: Dataset;
}

export interface MnistOptions {
  /** default MNIST's 0.1307 / 0.3081; 'compute' takes the training set's own mean and std (for Fashion-MNIST, KMNIST) */
  readonly normalization?: Normalization | 'compute';
}

/** A file's bytes, or null when it is not there. */
export type FileReader = (fileName: string) => Promise<Uint8Array | null>;

/** Reads `<base>.gz`, falling back to `<base>`; returns the name actually read and its bytes. */
async function readEither(read: FileReader, base: string, where: string): Promise<{ name: string; bytes: Uint8Array }> {
  for (const name of [`${base}.gz`, base]) {
    const bytes = await read(name);
    if (bytes !== null) return { name, bytes };
  }
  throw new InputError(`MNIST file not found: looked for ${base}(.gz) in ${where}`);
}

async function loadSplit(
  read: FileReader,
  where: string,
  split: string,
  imagesBase: string,
  labelsBase: string,
  normalization: Normalization | undefined,
) {
  // Settle both before reporting, so which error surfaces does not depend on timing.
  const [images, labels] = await Promise.allSettled([readEither(read, imagesBase, where), readEither(read, labelsBase, where)]);
  if (images.status === 'rejected') throw images.reason;
  if (labels.status === 'rejected') throw labels.reason;
  try {
    return await idxDataset(images.value, labels.value, {
      name: `MNIST ${split}`,
      shape: MNIST_SHAPE,
      classes: 10,
      ...(normalization ? { normalization } : {}),
    });
  } catch (error) {
    // idxDataset names the two files; say which split they are.
    if (error instanceof InputError && /images but .* labels/.test(error.message)) {
      throw new InputError(`MNIST ${split} split: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Loads the four MNIST files through `read`, preferring `<base>.gz` over `<base>`; `where`
 * names the place looked in, for error messages. Counts are not forced to 60000/10000, so subsets
 * load too. The test set is normalized with the training set's normalization.
 */
export async function loadMnist(read: FileReader, where: string, o: MnistOptions = {}): Promise<MnistLike> {
  const given = o.normalization === 'compute' ? undefined : (o.normalization ?? MNIST_NORMALIZATION);
  const [train, test] = await Promise.allSettled([
    loadSplit(read, where, 'train', MNIST_FILES.trainImages, MNIST_FILES.trainLabels, given),
    loadSplit(read, where, 'test', MNIST_FILES.testImages, MNIST_FILES.testLabels, given),
  ]);
  if (train.status === 'rejected') throw train.reason;
  if (test.status === 'rejected') throw test.reason;
  // The test set is normalized as the training set is, whatever its own statistics.
  return { train: train.value, test: { ...test.value, normalization: train.value.normalization } };
}
