/**
 * The published package, installed the way a user installs it: `npm pack`, then `npm install
 * <tarball>` in a fresh temporary folder (one pack and one install for every check here). There:
 * the tarball holds the built library and no sources; the browser entry's import graph reaches
 * neither `node:*` nor the Dawn addon; the README's Library example runs unchanged and prints a
 * test accuracy; and a TypeScript file using both entries type-checks under `strict` against the
 * shipped .d.ts alone (the repository's tsc, run in that folder).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MNIST_DIR, ROOT } from './helpers.ts';
import { installInto, packInto, type Packed } from './pack.ts';

const run = promisify(execFile);
const NAME = 'webgpu-mnist-engine';

let work = '';
let app = '';
let packed: Packed;

/**
 * The first ```js block under the first heading that contains "Library", up to the next heading
 * of the same or a higher level: exactly what a reader of the README copies.
 */
function libraryExample(markdown: string): string | undefined {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#{1,6}\s.*Library/.test(l));
  if (start < 0) return undefined;
  const level = /^#+/.exec(lines[start]!)![0].length;
  let inFence = false;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!inFence && new RegExp(`^#{1,${level}}\\s`).test(line)) return undefined;
    if (/^```/.test(line)) {
      if (!inFence && /^```js\s*$/.test(line)) {
        const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
        return end < 0 ? undefined : lines.slice(i + 1, end).join('\n') + '\n';
      }
      inFence = !inFence;
    }
  }
  return undefined;
}

async function readmeExample(): Promise<{ code: string; from: string }> {
  const from = 'README.md';
  const code = libraryExample(await readFile(join(ROOT, from), 'utf8'));
  if (!code) throw new Error('no ```js block under a heading containing "Library" in README.md');
  return { code, from };
}

/** Every import of the bundle that is neither relative nor the package itself: what it needs from outside. */
async function outsideImports(entry: string): Promise<string[]> {
  const seen = new Set<string>();
  const record: Plugin = {
    name: 'record-outside-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point' || args.path.startsWith('.') || args.path.startsWith('/') || args.path === NAME) return undefined;
        if (args.path.startsWith(`${NAME}/`)) return undefined;
        seen.add(args.path);
        return { path: args.path, external: true };
      });
    },
  };
  await build({
    stdin: { contents: `export * from '${entry}';`, resolveDir: app, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    logLevel: 'silent',
    plugins: [record],
  });
  return [...seen].sort();
}

/** Uses the main API of both entries; the @ts-expect-error lines prove the types are not `any`. */
const CONSUMER_TS = `
import { createDevice, datasetFrom, describeError, DivergenceError, InputError, mlp, sgd, Trainer, type Device } from '${NAME}';
import { createNodeDevice, loadMnist, writeFileAtomic } from '${NAME}/node';

export async function main(dir: string, signal: AbortSignal): Promise<number> {
  const device: Device = typeof navigator !== 'undefined' && 'gpu' in navigator ? await createDevice() : await createNodeDevice();
  const { train, test } = await loadMnist(dir);
  const extra = datasetFrom({ features: new Float32Array(40), labels: new Uint8Array(2), featureCount: 20, classes: 3 });
  const trainer = await Trainer.create(device, {
    model: mlp([784, 512, 256, 128, 64, 10]),
    optimizer: sgd({ lr: 0.01, momentum: 0.5 }),
    train,
    test,
    batchSize: 64,
    seed: 1,
    shuffle: true,
  });
  try {
    await trainer.fit({ epochs: 1, maxSteps: 10, signal, onBatch: () => {}, onEpoch: () => {} });
    const { loss, accuracy } = await trainer.evaluate();
    const probs: Float32Array = await trainer.predict(new Uint8Array(2 * 784));
    const weights: Uint8Array = await trainer.saveSafetensors();
    await trainer.loadSafetensors(weights);
    const state: Uint8Array = await trainer.checkpoint();
    await trainer.restore(state);
    await writeFileAtomic(dir + '/w.safetensors', weights);
    void extra;
    // @ts-expect-error the learning rate is a number
    sgd({ lr: 'fast' });
    // @ts-expect-error Trainer.create needs a model
    void Trainer.create(device, { optimizer: sgd({ lr: 0.1 }), train, test });
    return loss + accuracy + (probs[0] ?? 0);
  } catch (error) {
    if (error instanceof InputError || error instanceof DivergenceError) throw new Error(describeError(error));
    throw error;
  } finally {
    trainer.dispose();
    device.destroy();
  }
}
`;

describe('the npm package, installed from its tarball in a fresh folder', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'package-test-'));
    const started = performance.now();
    packed = await packInto(work);
    app = join(work, 'app');
    await installInto(app, packed.tarball);
    console.log(`package: packed and installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the built library (ESM + .d.ts) and no sources', () => {
    const files = packed.files;
    for (const f of ['package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/node.js', 'dist/lib/node.d.ts']) {
      expect(files, f).toContain(f);
    }
    const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE)$/.test(f) && !f.startsWith('dist/lib/'));
    expect(stray, 'files outside dist/lib').toEqual([]);
    expect(
      files.filter((f) => /\.wgsl$|(?<!\.d)\.ts$/.test(f)),
      'TypeScript or WGSL sources',
    ).toEqual([]);
  });

  it('the browser entry reaches neither node:* nor webgpu (Dawn); the node entry does', async () => {
    expect(await outsideImports(NAME), `imports reachable from '${NAME}'`).toEqual([]);
    const node = await outsideImports(`${NAME}/node`);
    expect(node, `'${NAME}/node' uses Dawn`).toContain('webgpu');
    expect(
      node.filter((s) => s !== 'webgpu' && !s.startsWith('node:')),
      'anything else the node entry imports',
    ).toEqual([]);
  });

  it('both entries share one Trainer and one set of error classes (instanceof works across them)', async () => {
    const script = `
      const web = await import('${NAME}');
      const node = await import('${NAME}/node');
      const same = ['Trainer', 'InputError', 'GpuError', 'DeviceLostError', 'DivergenceError', 'Device', 'mlp', 'sgd', 'datasetFrom'];
      const differ = same.filter((k) => typeof web[k] !== 'function' || web[k] !== node[k]);
      console.log(JSON.stringify({ differ, node: ['createNodeDevice', 'loadMnist', 'writeFileAtomic'].filter((k) => typeof node[k] !== 'function') }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({ differ: [], node: [] });
  });

  it("runs the README's Library example unchanged and prints a test accuracy", async () => {
    const { code, from } = await readmeExample();
    console.log(`package: the example comes from ${from}`);
    expect(code, 'the example imports only the package').not.toMatch(/from\s+['"](?!webgpu-mnist-engine(\/node)?['"])/);
    await writeFile(join(app, 'example.mjs'), code);
    const started = performance.now();
    const { stdout } = await run(process.execPath, ['example.mjs'], {
      cwd: app,
      env: { ...process.env, MNIST_DIR },
      timeout: 300_000,
      maxBuffer: 16 << 20,
    });
    console.log(`package: example.mjs ran in ${((performance.now() - started) / 1000).toFixed(1)} s: ${stdout.trim().split('\n').at(-1)}`);
    const match = /test accuracy\D*?(\d+(?:\.\d+)?)\s*(%?)/i.exec(stdout);
    expect(match, `a test accuracy line in:\n${stdout}`).not.toBeNull();
    const accuracy = Number(match![1]) / (match![2] === '%' ? 100 : 1);
    expect(accuracy, 'test accuracy after a few hundred steps (chance is 0.1)').toBeGreaterThan(0.2);
  }, 360_000);

  it('a strict TypeScript consumer type-checks against the shipped .d.ts (node16 and bundler resolution)', async () => {
    await writeFile(join(app, 'consumer.ts'), CONSUMER_TS);
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        lib: ['ES2023', 'DOM'],
        module: 'node16',
        moduleResolution: 'node16',
        // Check the package's .d.ts too: an unresolvable import there must fail, not turn into `any`.
        skipLibCheck: false,
        types: [],
      },
      files: ['consumer.ts'],
    };
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    for (const flags of [[], ['--module', 'esnext', '--moduleResolution', 'bundler']]) {
      const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json', ...flags], { cwd: app, timeout: 120_000 }).catch(
        (error: { stdout?: string; stderr?: string }) => error,
      );
      expect(`${result.stdout ?? ''}${result.stderr ?? ''}`.trim(), `tsc ${flags.join(' ')}`).toBe('');
    }
  }, 240_000);
});
