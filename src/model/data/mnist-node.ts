/** MNIST from a local directory, and fetching it there (Node only). */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../runtime/errors.ts';
import { writeFileAtomic } from '../io/atomic-file.ts';
import { loadMnist, MNIST_CHECKSUMS, type MnistLike, type MnistOptions } from './mnist.ts';

export const DEFAULT_MNIST_URL = 'https://ossci-datasets.s3.amazonaws.com/mnist/';

/** The data directory: the flag if given, else $MNIST_DIR, else `data/mnist`. */
export function resolveDataDir(flag?: string): string {
  return flag ?? process.env.MNIST_DIR ?? 'data/mnist';
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

/**
 * Loads the four MNIST-layout IDX files (each `.gz` or uncompressed) from `dir` (default:
 * $MNIST_DIR, else data/mnist): MNIST, Fashion-MNIST or KMNIST.
 */
export async function loadMnistDir(dir: string = resolveDataDir(), options: MnistOptions = {}): Promise<MnistLike> {
  return loadMnist(
    async (fileName) => {
      const path = join(dir, fileName);
      try {
        const buffer = await readFile(path);
        // A plain Uint8Array view, so callers never see Buffer's differing slice() semantics.
        return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw new InputError(`${path}: cannot read (${firstLine(err)})`, { cause: err });
      }
    },
    dir,
    options,
  );
}

/**
 * Checks one of the four canonical `.gz` files against its known size and MD5.
 * Throws InputError naming the file on a mismatch or an unknown name.
 */
export function verifyMnistFile(name: string, bytes: Uint8Array): void {
  const known = MNIST_CHECKSUMS[name];
  if (!known) {
    throw new InputError(`${name}: not one of the MNIST files (${Object.keys(MNIST_CHECKSUMS).join(', ')})`);
  }
  if (bytes.length !== known.bytes) {
    throw new InputError(`${name}: ${bytes.length} bytes, expected ${known.bytes}; the download is incomplete or not MNIST`);
  }
  const md5 = createHash('md5').update(bytes).digest('hex');
  if (md5 !== known.md5) {
    throw new InputError(`${name}: checksum mismatch (md5 ${md5}, expected ${known.md5})`);
  }
}

async function readIfPresent(path: string): Promise<Uint8Array | null> {
  try {
    return await readFile(path);
  } catch {
    return null;
  }
}

/**
 * Downloads the four MNIST `.gz` files into `dir`, verifying size and MD5 before each is
 * moved into place (atomically, so an interrupted download never leaves a partial file under
 * the real name). Files already there with the right checksum are kept. Returns the names fetched.
 */
export async function downloadMnist(dir: string, baseUrl: string = DEFAULT_MNIST_URL): Promise<string[]> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const fetched: string[] = [];
  for (const name of Object.keys(MNIST_CHECKSUMS)) {
    const path = join(dir, name);
    const existing = await readIfPresent(path);
    if (existing !== null) {
      try {
        verifyMnistFile(name, existing);
        continue;
      } catch {
        // A damaged or partial copy: fetch it again and replace it.
      }
    }
    const url = `${base}${name}`;
    let response: Response;
    try {
      response = await fetch(url);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      throw new InputError(`cannot download ${url}: ${firstLine(cause ?? err)}`, { cause: err });
    }
    if (!response.ok) {
      throw new InputError(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`.trimEnd());
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      throw new InputError(`cannot download ${url}: ${firstLine(err)}`, { cause: err });
    }
    verifyMnistFile(name, bytes);
    await writeFileAtomic(path, bytes);
    fetched.push(name);
  }
  return fetched;
}
