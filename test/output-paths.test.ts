import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/runtime/errors.ts';
import { checkWritableDir, checkWritableFile, LOCK_FILE, lockDirectory } from '../src/model/io/output-paths.ts';
import { ROOT } from './helpers.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'outputs-'));

async function refusal(p: Promise<unknown>): Promise<string> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return (error as Error).message;
}

describe('output paths are checked before any work', () => {
  it('a file path: new (parents to be created) or existing is fine; a directory, or a file where a parent should be, is refused', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'file'), 'x');
    await checkWritableFile(join(dir, 'w.safetensors'));
    await checkWritableFile(join(dir, 'a/b/c/w.safetensors'));
    await checkWritableFile(join(dir, 'file'));
    expect(await refusal(checkWritableFile(dir, '--save X'))).toMatch(/^--save X is a directory; give a file name/);
    expect(await refusal(checkWritableFile(`${dir}/new/`))).toMatch(/a file name is needed/);
    expect(await refusal(checkWritableFile(join(dir, 'file/w.safetensors')))).toMatch(/file is a file, not a directory/);
    expect(await refusal(checkWritableFile(join(dir, 'file/x/w.safetensors')))).toMatch(/file is a file, not a directory/);
  });

  it('a directory path: new or existing is fine; a file, or one under a file, is refused', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'file'), 'x');
    await checkWritableDir(dir);
    await checkWritableDir(join(dir, 'x/y'));
    expect(await refusal(checkWritableDir(join(dir, 'file'), '--checkpoint F'))).toBe('--checkpoint F is a file, not a directory');
    expect(await refusal(checkWritableDir(join(dir, 'file/sub')))).toMatch(/is a file, not a directory/);
  });

  it('a directory that is not writable is refused', async () => {
    // Root may write anywhere a mode allows nothing, so a chmod'ed directory tests this only for
    // other users; /proc/self refuses new files to everyone, root included (Linux).
    const dir = fresh();
    mkdirSync(join(dir, 'ro'));
    chmodSync(join(dir, 'ro'), 0o500);
    const readOnly = process.getuid?.() === 0 ? '/proc/self' : join(dir, 'ro');
    expect(await refusal(checkWritableFile(join(readOnly, 'w.safetensors')))).toMatch(/is not writable/);
  });
});

describe('lockDirectory', () => {
  it('refuses a directory a live process holds, takes over one a dead process left, and releases', async () => {
    const dir = fresh();
    const live = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, LOCK_FILE), `${live.pid}\n`);
      expect(await refusal(lockDirectory(dir))).toMatch(new RegExp(`in use by another run \\(pid ${live.pid}\\)`));
    } finally {
      live.kill();
    }
    const dead = spawnSync('true').pid;
    writeFileSync(join(dir, LOCK_FILE), `${dead}\n`);
    const release = await lockDirectory(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    release();
    await lockDirectory(join(dir, 'new/sub')).then((r) => r());
    expect(() => readFileSync(join(dir, LOCK_FILE))).toThrow();
  });
});

describe("Dawn's stderr filter", () => {
  it('drops the limit-clamping notices native code prints, and passes every other line on', async () => {
    const out = join(ROOT, 'dist/test/stderr-filter.mjs');
    await build({
      stdin: {
        contents: `
          import { writeSync } from 'node:fs';
          import { withNativeStderrFiltered, DAWN_CHATTER } from './src/runtime/node-device.ts';
          const value = await withNativeStderrFiltered(DAWN_CHATTER, async () => {
            writeSync(2, 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\n');
            writeSync(2, 'a real warning\\n');
            return 42;
          });
          process.stderr.write('after ' + value + '\\n');`,
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: out,
      external: ['webgpu'],
      logLevel: 'warning',
    });
    // stderr a file, as `2>log` (a terminal or a pipe work the same; a socket, as Node's own
    // child-process pipes are, cannot be reopened and stays unfiltered).
    const log = join(fresh(), 'stderr.txt');
    const fd = openSync(log, 'w');
    const r = spawnSync('node', [out], { cwd: ROOT, stdio: ['ignore', 'ignore', fd] });
    closeSync(fd);
    const stderr = readFileSync(log, 'utf8');
    expect(r.status, stderr).toBe(0);
    expect(stderr).toBe('a real warning\nafter 42\n');
  });
});
