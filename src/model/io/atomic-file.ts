/** Crash-safe file replacement (Node only). */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../../runtime/errors.ts';

let sequence = 0;

function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

/**
 * Writes `bytes` to `path` so that readers see either the old file or the complete new one:
 * the data goes to a temp file in the same directory (same filesystem, so rename is atomic),
 * is fsynced, then renamed over `path`. Parent directories are created. On failure the temp
 * file is removed, `path` is left as it was, and the promise rejects with an InputError.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  // Ends in .tmp so a stray one (after a crash) is gitignored; pid + sequence keep concurrent writers apart.
  const temp = join(dir, `.${basename(path)}.${process.pid}-${sequence++}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new InputError(`${path}: cannot create directory ${dir} (${reason(err)})`, { cause: err });
  }
  let created = false;
  try {
    const handle = await open(temp, 'wx');
    created = true;
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    created = false;
  } catch (err) {
    if (created) await unlink(temp).catch(() => {});
    throw new InputError(`${path}: cannot write (${reason(err)})`, { cause: err });
  }
  await syncDirectory(dir);
}

/** Makes the rename itself durable; not possible on every platform (Windows), so best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The file is already in place; only durability across a power cut is weaker.
  }
}
