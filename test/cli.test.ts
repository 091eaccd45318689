import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../src/model/io/checkpoint.ts';
import { decodeSafetensors } from '../src/model/io/safetensors.ts';
import { MNIST_DIR, ROOT } from './helpers.ts';

const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run('node', [join(ROOT, 'dist/node/train.mjs'), ...args], {
      cwd: ROOT,
      env: { ...process.env, MNIST_DIR, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', ...env },
      maxBuffer: 1 << 24,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The CLI's own lines (Dawn prints warnings of its own on stderr). */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('error:') || /^\s+at /.test(l));
}

beforeAll(async () => {
  await run('node', [join(ROOT, 'scripts/build-node.mjs'), '--quiet'], { cwd: ROOT });
});

// Each case is its own short process that mostly waits on start-up: they run side by side.
describe.concurrent('npm run train: bad input gets one line and a non-zero exit', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cli-'));
  const cases: [string, string[], RegExp][] = [
    ['batch size 0', ['--batch-size', '0'], /batch size must be a positive integer/],
    ['negative epochs', ['--epochs', '-1'], /epochs must be a non-negative integer/],
    ['a learning rate that is not a number', ['--lr', 'fast'], /--lr must be a number/],
    ['an infinite learning rate', ['--lr', 'Infinity'], /learning rate must be a finite positive number/],
    ['a negative learning rate', ['--lr=-0.1'], /learning rate must be a finite positive number/],
    ['an unknown flag', ['--learning-rate', '0.1'], /unknown flag --learning-rate/],
    ['a flag without its value', ['--seed'], /--seed needs a value/],
    ['a fractional batch size', ['--batch-size', '6.5'], /--batch-size must be an integer/],
    [
      'a data directory without MNIST',
      ['--data', tmp],
      new RegExp(`MNIST file not found: looked for train-images-idx3-ubyte\\(\\.gz\\) in ${tmp}`),
    ],
    ['a missing --init file', ['--init', join(tmp, 'nope.safetensors')], /cannot read weights .*nope\.safetensors: no such file/],
    [
      '--init weights of other layer sizes than --layers',
      ['--init', 'test/golden/parity-init.safetensors', '--layers', '784,32,10'],
      /holds layers 784,16,12,10, but --layers says 784,32,10/,
    ],
    ['a missing checkpoint', ['--resume', tmp], /cannot read checkpoint/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async ({ expect }) => {
      const r = await cli(args);
      expect(r.code).toBe(2);
      const lines = errorLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    });
  }
});

describe('npm run train', () => {
  it('--help lists the flags', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--data',
      '--epochs',
      '--batch-size',
      '--lr',
      '--momentum',
      '--seed',
      '--no-shuffle',
      '--max-steps',
      '--init',
      '--save',
      '--json',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('trains K steps from --init without shuffling, saves PyTorch-named weights, ends with the JSON line', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-')), 'w.safetensors');
    const r = await cli(['--init', 'test/golden/parity-init.safetensors', '--no-shuffle', '--max-steps', '12', '--save', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(Object.keys(last)).toEqual(expect.arrayContaining(['adapter', 'epochs', 'epoch_s', 'test_acc', 'final_loss', 'samples_per_s']));
    expect(last.steps).toBe(12);
    expect(r.stdout).toMatch(/^Accuracy on test set: \d+ %$/m);
    const saved = decodeSafetensors(new Uint8Array(readFileSync(out)), out).tensors;
    expect([...saved.keys()]).toEqual(['l1.weight', 'l1.bias', 'l2.weight', 'l2.bias', 'l3.weight', 'l3.bias']);
    expect(saved.get('l1.weight')!.shape).toEqual([16, 784]);
  });

  it('--lr 50 stops at the step where the loss went non-finite, exits 1, and --save still writes the last good weights', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-')), 'last-good.safetensors');
    const r = await cli(['--lr', '50', '--max-steps', '200', '--save', out]);
    expect(r.code).toBe(1);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: training diverged: the loss of step \d+ is (NaN|Infinity|-Infinity)/);
    expect(r.stderr).toMatch(/saved the last good weights \(after step \d+\)/);
    const saved = decodeSafetensors(new Uint8Array(readFileSync(out)), out).tensors;
    for (const [name, t] of saved) expect(t.data.every(Number.isFinite), `${name} is finite`).toBe(true);
  });

  it("--epochs 1 reaches ≥ 88% test accuracy on the CPU adapter, prints the seed's lines, writes a checkpoint that --resume continues from", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    const r = await cli(['--epochs', '1', '--checkpoint', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[1, {3}300\] loss: \d\.\d{3}$/m);
    expect(r.stdout).toMatch(/^\[1, {3}900\] loss: \d\.\d{3}$/m);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { test_acc: number[]; epochs: number };
    expect(result.epochs).toBe(1);
    expect(result.test_acc[0]).toBeGreaterThanOrEqual(0.88);
    const file = join(dir, 'checkpoint.safetensors');
    expect(existsSync(file)).toBe(true);
    const { state } = decodeCheckpoint(new Uint8Array(readFileSync(file)), file);
    expect(state.epoch).toBe(1);
    expect(state.globalStep).toBe(938);
    // Already done: resuming with the same epoch count trains nothing more and succeeds.
    const resumed = await cli(['--resume', dir, '--epochs', '1']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resumed at epoch 2, step 938');
  }, 900_000);
});
