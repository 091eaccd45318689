/**
 * Smoke runs of the benchmarks as a user starts them (the bundled CLIs, as child processes): a
 * short training run in headless Chromium (SwiftShader here) and through Dawn in Node, and the
 * kernel microbenchmarks at small sizes. They assert that every figure is produced and well
 * formed, never how fast anything is.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fusesUpdate, TUNINGS, tuningFor } from '../src/model/programs/tuning.ts';
import type { AdapterSummary } from '../src/runtime/device.ts';
import { ROOT } from './helpers.ts';

const MNIST = process.env.MNIST_DIR ? resolve(process.env.MNIST_DIR) : resolve(ROOT, '../shared/mnist');
// 24 steps of batch 64 on the first 1,536 training samples (one whole epoch), evaluated on 500 test
// samples, 8 steps a submit (whatever the adapter's default): three submits, so the first-submit and
// steady-state figures both exist. Every figure of a full run, in well under a minute on SwiftShader.
const STEPS = 24;
const SMALL = [
  '--epochs',
  '1',
  '--max-steps',
  String(STEPS),
  '--train-subset',
  String(STEPS * 64),
  '--test-subset',
  '500',
  '--steps-per-submit',
  '8',
];

let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  execFileSync(process.execPath, ['scripts/build-node.mjs', '--quiet'], { cwd: ROOT, stdio: 'inherit' });
});
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [script, ...args],
      {
        cwd: ROOT,
        env: { ...process.env, MNIST_DIR: MNIST, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
        maxBuffer: 64 * 1024 * 1024,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** The one JSON document a bench prints after its table: from the first line that is exactly `{`. */
function jsonDocument(stdout: string): Record<string, unknown> {
  const start = stdout.startsWith('{\n') ? 0 : stdout.indexOf('\n{\n') + 1;
  expect(start, 'a JSON document on stdout').toBeGreaterThanOrEqual(0);
  return JSON.parse(stdout.slice(start)) as Record<string, unknown>;
}

const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

function expectPositive(doc: Record<string, unknown>, keys: string[]): void {
  for (const key of keys) {
    expect(isNumber(doc[key]), `${key} is a number (${String(doc[key])})`).toBe(true);
    expect(doc[key] as number, key).toBeGreaterThan(0);
  }
}

function expectTrainingDocument(doc: Record<string, unknown>, runtime: 'chrome' | 'node'): void {
  expect(doc.schema).toBe('webgpu-mnist-bench/1');
  expect(doc.runtime).toBe(runtime);
  expect(Number.isNaN(Date.parse(doc.date as string))).toBe(false);
  expect(typeof doc.command).toBe('string');
  const env = doc.environment as Record<string, unknown>;
  expect(env.cpus).toBeGreaterThan(0);
  if (runtime === 'chrome') expect(env.browser).toMatch(/Chrome\/\d+/);
  else expect(env.webgpu).toMatch(/^\d+\.\d+/);

  const adapter = doc.adapter as Record<string, unknown>;
  for (const key of ['vendor', 'architecture', 'device', 'description']) expect(typeof adapter[key], `adapter.${key}`).toBe('string');
  expect(typeof adapter.isFallback).toBe('boolean');
  expect(Array.isArray(adapter.features)).toBe(true);
  expect(doc.isFallback).toBe(adapter.isFallback);

  const workload = doc.workload as Record<string, unknown>;
  expect(workload).toMatchObject({
    layers: [784, 512, 256, 128, 64, 10],
    batchSize: 64,
    epochs: 1,
    maxSteps: STEPS,
    trainSamples: STEPS * 64,
    testSamples: 500,
    stepsPerEpoch: STEPS,
  });
  expect(typeof (workload.matmul as { variant: string }).variant).toBe('string');
  expectPositive(doc, [
    'stepsPerSubmit',
    'dispatchesPerStep',
    'compileSeconds',
    'pipelinesCompiled',
    'steadyStepMilliseconds',
    'encodeStepMicroseconds',
    'trainSeconds',
    'samplesPerSecond',
    'gflopsPerSecond',
  ]);
  // gather, 4 forward, the fused head, 3 backward_fused, grad_weight_update; 17 where the adapter's
  // tuning runs the update as its own pass (SwiftShader: gather, 5 forward, the loss, 9 gradients, the optimizer)
  expect(doc.dispatchesPerStep).toBe(fusesUpdate(tuningFor(adapter as unknown as AdapterSummary)) ? 10 : 17);
  expect(isNumber(doc.loadSeconds)).toBe(true);
  expect(isNumber(doc.warmupSeconds) && (doc.warmupSeconds as number) >= 0, 'warmupSeconds').toBe(true);
  const perStep = doc.perStep as Record<string, unknown>;
  expectPositive(perStep, ['flops', 'bytes', 'matmulFlops']);
  const first = doc.firstSubmit as Record<string, unknown>;
  expectPositive(first, ['steps', 'seconds']);
  expect(doc.stepsPerSubmit).toBe(8);
  expect(doc.totalSteps).toBe(STEPS);

  const epochs = doc.epochs as Record<string, unknown>[];
  expect(epochs).toHaveLength(1);
  const e = epochs[0]!;
  expect(e).toMatchObject({ epoch: 1, steps: STEPS, partial: false });
  expectPositive(e, ['seconds', 'samplesPerSecond', 'gflopsPerSecond', 'trainLoss', 'testLoss', 'evalSeconds']);
  for (const key of ['trainAccuracy', 'testAccuracy']) {
    expect(isNumber(e[key]), key).toBe(true);
    expect(e[key] as number).toBeGreaterThanOrEqual(0);
    expect(e[key] as number).toBeLessThanOrEqual(1);
  }
  // The process's CPU time is known in Node (the CPU adapter runs in it), not in a page.
  if (runtime === 'node') expectPositive(e, ['cpuSeconds']);
  else expect(e.cpuSeconds).toBeNull();
  // 24 steps of SGD at lr 0.01 do not reach 97%: the field is there, and null.
  expect('timeTo97Seconds' in doc && 'epochTo97' in doc).toBe(true);
  expect(doc.timeTo97Seconds).toBeNull();
}

function expectTable(stdout: string): void {
  expect(stdout).toMatch(/^adapter /m);
  expect(stdout).toMatch(/^epoch +steps +train s +CPU s +samples\/s/m);
  expect(stdout).toMatch(/^time to 97% test accuracy: /m);
}

describe('npm run bench:node (Dawn in Node)', () => {
  it(`trains ${STEPS} steps and reports every figure, on stdout and in the results file`, async () => {
    const file = join(out, 'node.json');
    const r = await run('dist/node/bench-node.mjs', [...SMALL, '--out', file], 300_000);
    expect(r.code, r.stderr).toBe(0);
    expectTable(r.stdout);
    const doc = jsonDocument(r.stdout);
    expectTrainingDocument(doc, 'node');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(doc);
  });

  it('rejects a bad flag with one line and exit status 2', async () => {
    const r = await run('dist/node/bench-node.mjs', ['--epochs', 'ten'], 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("error: --epochs must be a number, got 'ten'");
    const both = await run('dist/node/bench-node.mjs', ['--fused-update', '--unfused-update'], 60_000);
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe('error: --fused-update and --unfused-update contradict each other: give one');
  });
});

describe('npm run bench (headless Chromium)', () => {
  it(`trains ${STEPS} steps in the page and reports every figure, with no console errors`, async () => {
    const file = join(out, 'chrome.json');
    const r = await run('dist/node/bench-browser.mjs', [...SMALL, '--out', file], 480_000);
    expect(r.code, r.stderr).toBe(0);
    expectTable(r.stdout);
    const doc = jsonDocument(r.stdout);
    expectTrainingDocument(doc, 'chrome');
    expect(doc.consoleErrors).toEqual([]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(doc);
  });

  it('rejects an unknown flag before starting a browser', async () => {
    const r = await run('dist/node/bench-browser.mjs', ['--epochs', '1', '--fast'], 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: unknown flag --fast (see --help)');
  });
});

describe('kernel microbenchmarks (Dawn in Node)', () => {
  it('checks every kernel against its CPU reference, then times it', async () => {
    const file = join(out, 'kernels.json');
    const args = ['--large', '96', '--pass-ms', '5', '--samples', '3', '--case-seconds', '0.05', '--out', file];
    const r = await run('dist/node/bench-kernels.mjs', args, 300_000);
    expect(r.code, r.stderr).toBe(0);
    const doc = jsonDocument(r.stdout);
    expect(doc.schema).toBe('webgpu-mnist-kernels/1');
    expect(doc.allChecksPassed).toBe(true);
    // Every matmul variant the engine has (tiles at least), the trainer's choice for this adapter first.
    const variants = (doc.variants as { name: string; trainerDefault: boolean }[]).map((v) => v.name);
    expect(variants).toContain('tiles');
    expect((doc.variants as { trainerDefault: boolean }[])[0]!.trainerDefault).toBe(true);
    const cases = doc.cases as { name: string; check: { ok: boolean }; timing?: Record<string, unknown> }[];
    const names = cases.map((c) => c.name);
    for (const name of ['gather', 'softmax_ce train', 'train_head l5', 'optimizer step']) expect(names).toContain(name);
    for (const v of variants) {
      const mm = [`forward 96³`, 'grad_weight_update l1', ...[1, 2, 3, 4, 5].flatMap((l) => [`forward l${l}`, `grad_weight l${l}`])];
      mm.push(...[2, 3, 4, 5].flatMap((l) => [`backward_fused l${l}`, `grad_input l${l}`]));
      for (const name of mm) expect(names).toContain(`${name} [${v}]`);
    }
    for (const c of cases) {
      expect(c.check.ok, c.name).toBe(true);
      expect(c.timing, c.name).toBeDefined();
      expectPositive(c.timing!, [
        'microsecondsPerDispatch',
        'wallMicrosecondsPerDispatch',
        'gflopsPerSecond',
        'gbPerSecond',
        'reps',
        'samples',
      ]);
    }
    const steps = doc.steps as { variant: string; fusedUpdate: boolean; dispatches: number; microseconds: number; missing: string[] }[];
    expect(steps.map((s) => [s.variant, s.fusedUpdate, s.dispatches, s.missing])).toEqual(
      variants.flatMap((v) => [
        [v, true, 10, []],
        [v, false, 17, []],
      ]),
    );
    const replays = doc.replays as { variant: string; dispatches: number; finite: boolean; timing: Record<string, unknown> }[];
    // each variant's step as its tuning runs it: 10 dispatches fused, 17 with the update as its own pass (rows)
    const fusedOf = (v: string) => fusesUpdate(TUNINGS[v as keyof typeof TUNINGS]);
    expect(replays.map((r) => [r.variant, r.dispatches, r.finite])).toEqual(variants.map((v) => [v, fusedOf(v) ? 10 : 17, true]));
    for (const r of replays) expectPositive(r.timing, ['microsecondsPerDispatch', 'gflopsPerSecond']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(doc);
  });
});
