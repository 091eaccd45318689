/**
 * Getting the MNIST files: from the server (`mnist/<name>.gz` next to the page, with download
 * progress; the worker runs this, so the page never holds the bytes) or from the four files a
 * person drops or picks (no network at all; the page hands the worker the File handles).
 * Decompressing and parsing are the engine's, in the worker, which checks every header and length.
 */
import { InputError, MNIST_CHECKSUMS, MNIST_FILES } from '../src/index.ts';

/** Files by the name the engine's MNIST loader asks for (`<base>.gz` or `<base>`). */
export type MnistFiles = { name: string; bytes: Uint8Array }[];

export type Progress = (fraction: number | undefined, text: string) => void;

const BASES: readonly string[] = Object.values(MNIST_FILES);

/** The server has no MNIST files: not an error, the page asks for the files instead. */
export class DataNotOnServer extends Error {
  override name = 'DataNotOnServer';
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The body of `response`, reporting bytes as they arrive. */
async function readBody(response: Response, onBytes: (received: number) => void): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onBytes(received);
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * Downloads the four `.gz` files from `baseUrl` (the smallest first, then the rest in parallel)
 * and parses them. Progress is by
 * Content-Length, or by the canonical file sizes where the server sends none (chunked replies).
 */
export async function fetchMnist(baseUrl: URL, onProgress: Progress): Promise<MnistFiles> {
  // The test labels first: the smallest file tells whether the server has MNIST at all, so a
  // server without it costs one 404 (which the browser logs) rather than four.
  const names = [MNIST_FILES.testLabels, MNIST_FILES.trainLabels, MNIST_FILES.testImages, MNIST_FILES.trainImages].map(
    (base) => `${base}.gz`,
  );
  const get = async (name: string) => {
    let response: Response;
    try {
      response = await fetch(new URL(name, baseUrl));
    } catch (error) {
      throw new DataNotOnServer(`could not reach ${baseUrl.pathname} (${error instanceof Error ? error.message : String(error)})`);
    }
    // A static host may answer a missing file with its index page rather than a 404.
    if (!response.ok || /text\/html/i.test(response.headers.get('content-type') ?? '')) {
      void response.body?.cancel().catch(() => {});
      return undefined;
    }
    return response;
  };
  const first = await get(names[0]!);
  if (!first) throw new DataNotOnServer(`no ${names[0]} at ${baseUrl.pathname}`);
  const rest = await Promise.all(names.slice(1).map(get));
  const missing = names.slice(1).filter((_, i) => !rest[i]);
  if (missing.length) {
    for (const r of [first, ...rest]) void r?.body?.cancel().catch(() => {});
    throw new DataNotOnServer(`missing ${missing.join(', ')} at ${baseUrl.pathname}`);
  }
  const responses = [first, ...(rest as Response[])];
  const expected = responses.map((r, i) => Number(r.headers.get('content-length')) || MNIST_CHECKSUMS[names[i]!]?.bytes || 0);
  const total = expected.reduce((a, b) => a + b, 0);
  const received = names.map(() => 0);
  const report = () => {
    const got = received.reduce((a, b) => a + b, 0);
    // Unknown or wrong sizes must not push the bar past its end.
    onProgress(
      total ? Math.min(got / total, 0.99) : undefined,
      `Downloading MNIST… ${megabytes(got)}${total ? ` of ${megabytes(total)}` : ''}`,
    );
  };
  report();
  const bodies = await Promise.all(
    responses.map((r, i) =>
      readBody(r, (bytes) => {
        received[i] = bytes;
        report();
      }),
    ),
  );
  return names.map((name, i) => ({ name, bytes: bodies[i]! }));
}

/** The MNIST base name a dropped file stands for, if any: exact names, `.gz` or not, and Kaggle's `train-images.idx3-ubyte` spelling. */
function mnistBaseOf(fileName: string): string | undefined {
  const name = fileName
    .toLowerCase()
    .replace(/\.gz$/, '')
    .replace(/\.(idx[13]-ubyte)$/, '-$1');
  return BASES.find((base) => base === name);
}

/**
 * Files a person dropped, collected until all four are there (they may come in several drops).
 * Returns the base names still missing.
 */
export class DroppedFiles {
  private readonly files = new Map<string, File>();

  /** Adds the MNIST files among `files`; returns the names of those that are not MNIST files. */
  add(files: Iterable<File>): string[] {
    const ignored: string[] = [];
    for (const file of files) {
      const base = mnistBaseOf(file.name);
      if (base) this.files.set(base, file);
      else ignored.push(file.name);
    }
    return ignored;
  }

  get missing(): string[] {
    return BASES.filter((base) => !this.files.has(base));
  }

  clear(): void {
    this.files.clear();
  }

  /**
   * The four files under the names the engine's MNIST loader asks for: `<base>.gz`, then `<base>`,
   * so under the name the file was dropped as (gzip is recognised by its magic bytes, so a misnamed
   * file still gets a clear message).
   */
  named(): { name: string; file: File }[] {
    const missing = this.missing;
    if (missing.length) throw new InputError(`still missing: ${missing.join(', ')}`);
    return [...this.files].map(([base, file]) => ({ name: /\.gz$/i.test(file.name) ? `${base}.gz` : base, file }));
  }
}
