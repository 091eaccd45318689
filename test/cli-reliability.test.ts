import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../src/model/io/checkpoint.ts';
import { MNIST_DIR, ROOT, testGpu } from './helpers.ts';

const TRAIN = join(ROOT, 'dist/node/train.mjs');
const ENV = { ...process.env, MNIST_DIR, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * Runs the CLI; each step of `interrupts` sends its signal once the output so far (stdout and
 * stderr) matches its pattern. stderr goes to a file, as from a shell's `2>log` (Node's own pipes
 * are sockets, which the Dawn filter cannot reopen).
 */
function cli(args: string[], interrupts: [RegExp, NodeJS.Signals][] = []): Promise<Result> {
  const log = join(mkdtempSync(join(tmpdir(), 'cli-')), 'stderr.txt');
  const fd = openSync(log, 'w');
  const start = performance.now();
  const child = spawn('node', [TRAIN, ...args], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', fd] });
  closeSync(fd);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const pending = [...interrupts];
  const poll = setInterval(() => {
    const next = pending[0];
    if (next && next[0].test(stdout + readFileSync(log, 'utf8'))) {
      pending.shift();
      child.kill(next[1]);
    }
  }, 10);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stdout, stderr: readFileSync(log, 'utf8'), seconds: (performance.now() - start) / 1000 });
    });
  });
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('error:') || /^\s+at /.test(l));
const tmp = () => mkdtempSync(join(tmpdir(), 'cli-rel-'));

beforeAll(async () => {
  await promisify(execFile)('node', [join(ROOT, 'scripts/build-node.mjs'), '--quiet'], { cwd: ROOT });
});

describe('outputs are checked before any work: one error line, exit 2, before MNIST or the GPU', () => {
  const dir = tmp();
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const cases: [string, string[], RegExp][] = [
    ['--save naming a directory', ['--save', dir], /^error: --save .* is a directory; give a file name/],
    ['--save under a file', ['--save', join(file, 'w.safetensors')], /a-file is a file, not a directory/],
    ['--checkpoint naming a file', ['--checkpoint', file], /^error: --checkpoint .*a-file is a file, not a directory$/],
    ['--checkpoint under a file', ['--checkpoint', join(file, 'ckpt')], /a-file is a file, not a directory/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await cli([...args, '--max-steps', '1']);
      expect(r.code).toBe(2);
      expect(errorLines(r.stderr), r.stderr).toHaveLength(1);
      expect(errorLines(r.stderr)[0]).toMatch(message);
      expect(r.stderr).not.toContain('adapter:');
      expect(r.seconds).toBeLessThan(10);
    });
  }

  it('a checkpoint directory that a live run holds is refused; a dead run leftover lock is not', async () => {
    const ckpt = tmp();
    writeFileSync(join(ckpt, '.lock'), `${process.pid}\n`);
    const r = await cli(['--checkpoint', ckpt, '--max-steps', '1']);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(new RegExp(`in use by another run \\(pid ${process.pid}\\)`));
    writeFileSync(join(ckpt, '.lock'), '999999999\n');
    const ok = await cli(['--checkpoint', ckpt, '--layers', '784,16,10', '--train-subset', '640', '--epochs', '1']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(join(ckpt, 'checkpoint.safetensors'))).toBe(true);
    expect(existsSync(join(ckpt, '.lock')), 'the lock is released at exit').toBe(false);
  });
});

describe('limits named, not hit: exit 2 with the limit and both sizes', () => {
  // The CLI's device has the test device's limits: a GPU whose binding limit holds these sizes trains instead.
  let bindingLimit = 0;
  beforeAll(async () => {
    const gpu = await testGpu();
    bindingLimit = gpu.device.limits.maxStorageBufferBindingSize;
    gpu.destroy();
  });
  const limit = /need [\d,]+ bytes \([\d.]+ MiB\), over the device's maxStorageBufferBindingSize of [\d,]+ bytes/;
  it('--batch-size 100000 is clamped to the 60000 training samples, whose activations do not fit a binding', async (ctx) => {
    if (bindingLimit >= 60000 * 784 * 4) ctx.skip();
    const r = await cli(['--batch-size', '100000', '--max-steps', '1']);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr), r.stderr).toHaveLength(1);
    expect(errorLines(r.stderr)[0]).toMatch(/activations of a batch \(60000 rows × 784 features/);
    expect(errorLines(r.stderr)[0]).toMatch(limit);
    expect(errorLines(r.stderr)[0]).toMatch(/use a batch size of at most \d+/);
  });

  it('--layers 784,100000,10: the parameters do not fit a binding', async (ctx) => {
    if (bindingLimit >= 79_500_096 * 4) ctx.skip();
    const r = await cli(['--layers', '784,100000,10', '--max-steps', '1']);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(/^error: the parameters \(79,500,096 floats of layers 784,100000,10\)/);
    expect(errorLines(r.stderr)[0]).toMatch(limit);
  });

  it('--layers 100,10: a model that does not fit the data is bad input (exit 2)', async () => {
    const r = await cli(['--layers', '100,10', '--max-steps', '1']);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(/the model takes 100 inputs, but MNIST train has 784 features/);
  });
});

describe('quiet output', () => {
  it('a normal run prints no driver chatter on stderr, only its own lines', async () => {
    const r = await cli(['--layers', '784,16,10', '--max-steps', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/artificially reduced|^Warning:/m);
    for (const line of r.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^(adapter: |model |epoch )/);
  });
});

describe('Ctrl-C keeps the work', () => {
  // 600 steps an epoch: the "[1,   300]" line comes mid-epoch, so the pause does too.
  const run = ['--layers', '784,16,10', '--train-subset', '38400', '--epochs', '2'];
  const midEpoch = /^\[1, {3}300\]/m;

  it('SIGINT mid-epoch writes a checkpoint of that point and the weights, exits 130; --resume ends with the uninterrupted weights', async () => {
    const dir = tmp();
    const full = await cli([...run, '--save', join(dir, 'full.safetensors')]);
    expect(full.code, full.stderr).toBe(0);
    const ckpt = join(dir, 'ckpt');
    const stopped = await cli([...run, '--checkpoint', ckpt, '--save', join(dir, 'part.safetensors')], [[midEpoch, 'SIGINT']]);
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/^interrupted after step \d+/m);
    expect(stopped.stderr).toContain(`checkpoint written to ${join(ckpt, 'checkpoint.safetensors')}`);
    expect(existsSync(join(dir, 'part.safetensors'))).toBe(true);
    const file = join(ckpt, 'checkpoint.safetensors');
    const { state } = decodeCheckpoint(new Uint8Array(readFileSync(file)), file);
    expect(state.epoch).toBe(0);
    expect(state.stepInEpoch, 'stopped mid-epoch').toBeGreaterThanOrEqual(300);
    expect(state.stepInEpoch).toBeLessThan(600);
    const resumed = await cli(['--resume', ckpt, '--train-subset', '38400', '--epochs', '2', '--save', join(dir, 'resumed.safetensors')]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resumed at epoch 1, step ${state.globalStep}`);
    const a = readFileSync(join(dir, 'full.safetensors'));
    const b = readFileSync(join(dir, 'resumed.safetensors'));
    expect(b.equals(a), 'resumed weights equal the uninterrupted run, byte for byte').toBe(true);
  }, 300_000);

  it('SIGTERM exits 143 after saving', async () => {
    const dir = tmp();
    const term = await cli([...run, '--save', join(dir, 'w.safetensors')], [[midEpoch, 'SIGTERM']]);
    expect(term.code, term.stderr).toBe(143);
    expect(term.stderr).toMatch(/^interrupted after step \d+/m);
    expect(existsSync(join(dir, 'w.safetensors'))).toBe(true);
  }, 300_000);

  it('a second SIGINT while the steps in flight finish exits 130 at once, writing nothing', async () => {
    const dir = tmp();
    // 64 steps a command buffer: the pause waits for up to 128 steps, time for the second signal.
    const args = [...run, '--steps-per-submit', '64', '--save', join(dir, 'no.safetensors'), '--checkpoint', join(dir, 'ckpt')];
    const twice = await cli(args, [
      [/^model /m, 'SIGINT'],
      [/stopping after the steps in flight/, 'SIGINT'],
    ]);
    expect(twice.code, twice.stderr).toBe(130);
    expect(twice.stderr).toContain('exiting at once');
    expect(existsSync(join(dir, 'no.safetensors'))).toBe(false);
    expect(existsSync(join(dir, 'ckpt/checkpoint.safetensors'))).toBe(false);
  }, 300_000);
});
