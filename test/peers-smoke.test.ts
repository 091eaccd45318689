/**
 * Smoke run of `npm run bench:peers` as a user starts it, at a small size (20 steps, 1 round): it
 * installs bench/peers' own dependencies on first use (needs the npm registry then), bundles the
 * runners, trains the engine, TensorFlow.js and jax-js, and must report every figure for all
 * three with losses that agree. Nothing here asserts how fast anything is.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.ts';

const MNIST = process.env.MNIST_DIR ? resolve(process.env.MNIST_DIR) : resolve(ROOT, '../shared/mnist');
const STEPS = 20;
const LIBRARIES = ['engine', 'tfjs', 'jax'];

let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'peers-smoke-'));
  // What `npm run bench:peers` does before it starts (less the system set-up, which the suite's own set-up covers).
  execFileSync('bash', ['scripts/ensure-peers.sh'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
  execFileSync(process.execPath, ['scripts/build-node.mjs', '--quiet'], { cwd: ROOT, stdio: 'inherit' });
}, 360_000);
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['dist/node/bench-peers.mjs', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, MNIST_DIR: MNIST, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
        maxBuffer: 64 * 1024 * 1024,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const isPositive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;

describe('npm run bench:peers', () => {
  it(`trains ${STEPS} steps through the engine, TensorFlow.js and jax-js and reports agreeing losses`, async () => {
    const file = join(out, 'peers.json');
    const r = await run(['--steps', String(STEPS), '--repeats', '1', '--warmup', '1', '--out', file], 900_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^engine vs tfjs: [\d.]+× faster/m);
    expect(r.stdout).toMatch(/^engine vs jax: [\d.]+× faster/m);
    expect(r.stdout).toMatch(/^losses agree: the same work$/m);
    const doc = JSON.parse(r.stdout.slice(r.stdout.indexOf('\n{\n') + 1)) as Record<string, unknown>;
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(doc);

    expect(doc.schema).toBe('webgpu-mnist-peers/1');
    expect(typeof doc.adapter, 'one adapter for all').toBe('string');
    expect(doc.order).toEqual(LIBRARIES.map((l) => `${l}#1`));
    expect(doc.workload).toMatchObject({ layers: [784, 512, 256, 128, 64, 10], batchSize: 64, lr: 0.01, momentum: 0.5, steps: STEPS });
    expect(Object.keys(doc.peers as object).sort()).toEqual(['@jax-js/jax', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-core']);

    const runs = doc.runs as Record<string, unknown>[];
    expect(runs.map((x) => x.library)).toEqual(LIBRARIES);
    for (const x of runs) {
      for (const key of ['trainSeconds', 'trainCpuSeconds', 'msPerStep', 'uploadSeconds', 'warmupSeconds'])
        expect(isPositive(x[key]), `${x.library} ${key}`).toBe(true);
      expect(x.steps).toBe(STEPS);
      const losses = x.losses as number[];
      expect(losses).toHaveLength(STEPS);
      // Cross-entropy of 10 classes from a small init starts near ln 10 and stays finite.
      for (const l of losses) expect(l > 0 && l < 3, `${x.library} loss ${l}`).toBe(true);
      expect(Math.abs(losses[0]! - Math.log(10))).toBeLessThan(0.1);
    }

    const ratios = doc.ratios as { peer: string; ofMedians: number; cpuOfMedians: number; perRepeat: number[] }[];
    expect(ratios.map((x) => x.peer)).toEqual(['tfjs', 'jax']);
    for (const x of ratios) {
      expect(isPositive(x.ofMedians)).toBe(true);
      expect(isPositive(x.cpuOfMedians)).toBe(true);
      expect(x.perRepeat).toHaveLength(1);
    }

    const losses = doc.losses as { agree: boolean; comparisons: { library: string; ok: boolean; worstToleranceRatio: number }[] };
    expect(losses.agree).toBe(true);
    expect(losses.comparisons.map((c) => c.library)).toEqual(['tfjs', 'jax']);
    for (const c of losses.comparisons) {
      expect(c.ok).toBe(true);
      expect(c.worstToleranceRatio).toBeLessThanOrEqual(1);
    }
  }, 900_000);

  it('type-checks the peer runners against the installed libraries', () => {
    execFileSync(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'bench/peers'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  }, 300_000);

  it('rejects an unknown library with one line and exit status 2', async () => {
    const r = await run(['--libraries', 'engine,torch'], 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("error: --libraries takes engine, tfjs, jax; got 'torch'");
  });
});
