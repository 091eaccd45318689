/**
 * Output paths checked before any work (Node only): a run that would fail to write its weights or
 * checkpoint after an hour of training is refused at start instead, with one InputError line.
 */
import { constants, unlinkSync } from 'node:fs';
import { access, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../../runtime/errors.ts';

type Kind = 'file' | 'directory' | 'other' | undefined;

async function kindOf(path: string): Promise<Kind> {
  try {
    const s = await stat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // ENOTDIR: a file sits where a parent directory should be; reported by the ancestor walk.
    if (code === 'ENOTDIR') return undefined;
    throw new InputError(`${path}: ${code ?? String(err)}`, { cause: err });
  }
}

/**
 * The nearest existing ancestor of `dir` must be a directory this process may create entries in
 * (what mkdir -p and the atomic write's rename need). `what` names the output in the message.
 */
async function checkCreatable(dir: string, what: string): Promise<void> {
  let at = resolve(dir);
  for (;;) {
    const kind = await kindOf(at);
    if (kind === 'directory') break;
    if (kind !== undefined) throw new InputError(`${what}: ${at} is a ${kind === 'file' ? 'file' : 'special file'}, not a directory`);
    const up = dirname(at);
    if (up === at) throw new InputError(`${what}: no existing directory above it`);
    at = up;
  }
  try {
    await access(at, constants.W_OK | constants.X_OK);
  } catch {
    throw new InputError(`${what}: directory ${at} is not writable`);
  }
}

/**
 * Checks that a file can be written at `path` (by writeFileAtomic: parents created, a temp file
 * renamed over it): not a directory, and its parent exists or can be created and is writable.
 * Nothing is created. Rejects with an InputError that names the path.
 */
export async function checkWritableFile(path: string, what = path): Promise<void> {
  if (path === '' || /[/\\]$/.test(path)) throw new InputError(`${what}: a file name is needed, not a directory`);
  const kind = await kindOf(path);
  if (kind === 'directory') throw new InputError(`${what} is a directory; give a file name (e.g. ${join(path, 'weights.safetensors')})`);
  if (kind === 'other') throw new InputError(`${what} is not a regular file`);
  await checkCreatable(dirname(resolve(path)), what);
}

/** Checks that `path` is, or can be created as, a writable directory. Nothing is created. */
export async function checkWritableDir(path: string, what = path): Promise<void> {
  if (path === '') throw new InputError('an output directory name is empty');
  const kind = await kindOf(path);
  if (kind === 'file' || kind === 'other') throw new InputError(`${what} is a file, not a directory`);
  await checkCreatable(path, what);
}

/** The lock file lockDirectory() keeps in the directory while the lock is held. */
export const LOCK_FILE = '.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims `dir` for this process (a `.lock` file holding the pid, created exclusively), so two runs
 * never write the same checkpoint directory. A lock left by a process that is no longer alive is
 * taken over. Returns the release function (also safe to call from a process 'exit' handler).
 */
export async function lockDirectory(dir: string, what = dir): Promise<() => void> {
  await checkWritableDir(dir, what);
  await mkdir(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        // Synchronous so that it also works from a process 'exit' handler.
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new InputError(`${what}: cannot create ${file} (${(err as Error).message.split('\n')[0]})`, { cause: err });
      }
    }
    const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new InputError(`${what} is in use by another run (pid ${pid}); wait for it or choose another directory`);
    }
    // A dead run's leftover (or an unreadable one): remove it and try again.
    await unlink(file).catch(() => {});
  }
  throw new InputError(`${what}: could not take the lock ${file}`);
}
