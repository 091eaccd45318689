/**
 * Saved runs in the Origin Private File System, written by the worker.
 *
 * The run in progress is saved as generations: `run-<n>.bin` is written in full, then the small
 * pointer `current.json` names it, then the older generation is deleted. A crash while writing a
 * generation leaves the pointer on the previous one; a torn pointer (or one that names a file that
 * fails its check) makes the reader fall back to the newest generation that reads back whole.
 * Finished runs (`done-<id>.bin`, curves and settings only) are kept for comparing runs.
 *
 * Every file: "MNISTRUN" | u32 header length | header JSON | payload (losses as f32, then the
 * checkpoint bytes), with the payload's SHA-256 and lengths in the header: anything that does not
 * check out is reported and ignored, never fatal.
 */
import type { EpochPoint, RunInfo, RunSettings } from './protocol.ts';

const MAGIC = 'MNISTRUN';
const VERSION = 1;
const POINTER = 'current.json';

interface Header {
  readonly version: number;
  readonly info: Omit<RunInfo, 'history'> & { readonly tests: readonly EpochPoint[]; readonly lossCount: number };
  readonly checkpointBytes: number;
  readonly sha256: string;
}

export interface SavedRun {
  readonly info: RunInfo;
  /** `Trainer.checkpoint()` bytes; empty for finished runs */
  readonly checkpoint: Uint8Array;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function encodeRun(info: RunInfo, checkpoint: Uint8Array): Promise<Uint8Array> {
  const losses = new Uint8Array(info.history.losses.buffer, info.history.losses.byteOffset, info.history.losses.byteLength);
  const payload = new Uint8Array(losses.length + checkpoint.length);
  payload.set(losses, 0);
  payload.set(checkpoint, losses.length);
  const { history, ...rest } = info;
  const header: Header = {
    version: VERSION,
    info: { ...rest, tests: history.tests, lossCount: history.losses.length },
    checkpointBytes: checkpoint.length,
    sha256: await sha256(payload),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 4 + json.length + payload.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  out.set(payload, MAGIC.length + 4 + json.length);
  return out;
}

function isSettings(s: unknown): s is RunSettings {
  const r = s as RunSettings | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    Array.isArray(r.layers) &&
    r.layers.every((n) => Number.isSafeInteger(n) && n > 0) &&
    [r.epochs, r.batchSize, r.seed].every(Number.isSafeInteger) &&
    typeof r.optimizer === 'object' &&
    r.optimizer !== null &&
    typeof r.optimizer.kind === 'string' &&
    Number.isFinite(r.optimizer.lr)
  );
}

/** Decodes and checks a saved file; throws an Error saying what is wrong with it. */
export async function decodeRun(bytes: Uint8Array, name: string): Promise<SavedRun> {
  const fail = (why: string): never => {
    throw new Error(`${name}: ${why}`);
  };
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) fail('not a saved run');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4 + headerLength;
  if (start > bytes.length) fail('truncated header');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, start))) as Header;
  } catch {
    return fail('unreadable header');
  }
  if (header.version !== VERSION) fail(`version ${String(header.version)}, this page reads ${VERSION}`);
  const info = header.info;
  if (!info || !isSettings(info.settings) || !Number.isSafeInteger(info.lossCount) || !Array.isArray(info.tests)) fail('bad header');
  const payload = bytes.subarray(start);
  if (payload.length !== info.lossCount * 4 + header.checkpointBytes) fail('truncated (the payload is not as long as the header says)');
  if ((await sha256(payload)) !== header.sha256) fail('corrupt (checksum mismatch)');
  const losses = new Float32Array(payload.slice(0, info.lossCount * 4).buffer);
  const { lossCount: _count, tests, ...rest } = info;
  return { info: { ...rest, history: { losses, tests } }, checkpoint: payload.slice(info.lossCount * 4) };
}

async function root(): Promise<FileSystemDirectoryHandle> {
  return (await navigator.storage.getDirectory()).getDirectoryHandle('mnist-demo', { create: true });
}

async function writeFile(dir: FileSystemDirectoryHandle, name: string, bytes: Uint8Array): Promise<void> {
  const handle = await dir.getFileHandle(name, { create: true });
  // createWritable writes to a swap file that replaces the file only on close(): all or nothing.
  const writable = await handle.createWritable();
  await writable.write(bytes as Uint8Array<ArrayBuffer>);
  await writable.close();
}

async function readFile(dir: FileSystemDirectoryHandle, name: string): Promise<Uint8Array> {
  const file = await (await dir.getFileHandle(name)).getFile();
  return new Uint8Array(await file.arrayBuffer());
}

async function names(dir: FileSystemDirectoryHandle): Promise<string[]> {
  const out: string[] = [];
  for await (const key of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) out.push(key);
  return out;
}

const generationOf = (name: string) => Number(/^run-(\d+)\.bin$/.exec(name)?.[1] ?? NaN);

export class RunStore {
  private generation = 0;
  private writing: Promise<void> = Promise.resolve();

  /** Saves the run in progress as a new generation (writes are queued, never interleaved). */
  saveCurrent(info: RunInfo, checkpoint: Uint8Array): Promise<void> {
    const write = this.writing.then(async () => {
      const dir = await root();
      const bytes = await encodeRun(info, checkpoint);
      const gen = this.generation + 1;
      await writeFile(dir, `run-${gen}.bin`, bytes);
      await writeFile(dir, POINTER, new TextEncoder().encode(JSON.stringify({ generation: gen })));
      this.generation = gen;
      for (const name of await names(dir)) {
        const g = generationOf(name);
        if (g < gen) await dir.removeEntry(name).catch(() => {});
      }
    });
    this.writing = write.catch(() => {});
    return write;
  }

  /** Forgets the run in progress (Reset, or it finished). */
  clearCurrent(): Promise<void> {
    const clear = this.writing.then(async () => {
      const dir = await root();
      for (const name of await names(dir)) if (name === POINTER || generationOf(name) >= 0) await dir.removeEntry(name).catch(() => {});
    });
    this.writing = clear.catch(() => {});
    return clear;
  }

  saveFinished(info: RunInfo): Promise<void> {
    const save = this.writing.then(async () => writeFile(await root(), `done-${info.id}.bin`, await encodeRun(info, new Uint8Array())));
    this.writing = save.catch(() => {});
    return save;
  }

  async clearAll(): Promise<void> {
    await this.writing;
    await (await navigator.storage.getDirectory()).removeEntry('mnist-demo', { recursive: true }).catch(() => {});
    this.generation = 0;
  }

  /** The run to continue (the pointer's generation, else the newest that reads back whole), finished runs, and what could not be read. */
  async load(): Promise<{ resumable: SavedRun | undefined; finished: RunInfo[]; problems: string[] }> {
    await this.writing;
    const dir = await root();
    const problems: string[] = [];
    const all = await names(dir);
    const generations = all.filter((n) => generationOf(n) >= 0).sort((a, b) => generationOf(b) - generationOf(a));
    this.generation = Math.max(0, ...generations.map(generationOf));
    let pointed: string | undefined;
    if (all.includes(POINTER)) {
      try {
        const g = (JSON.parse(new TextDecoder().decode(await readFile(dir, POINTER))) as { generation?: unknown }).generation;
        if (typeof g === 'number' && Number.isSafeInteger(g)) pointed = `run-${g}.bin`;
        else problems.push(`${POINTER}: no generation in it`);
      } catch (error) {
        problems.push(`${POINTER}: unreadable (${(error as Error).message})`);
      }
    }
    let resumable: SavedRun | undefined;
    for (const name of pointed ? [pointed, ...generations.filter((n) => n !== pointed)] : generations) {
      try {
        resumable = await decodeRun(await readFile(dir, name), name);
        break;
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    const finished: RunInfo[] = [];
    for (const name of all.filter((n) => /^done-.+\.bin$/.test(n)).sort()) {
      try {
        finished.push((await decodeRun(await readFile(dir, name), name)).info);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    return { resumable, finished, problems };
  }
}
