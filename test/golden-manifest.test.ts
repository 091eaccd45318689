import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../src/model/io/safetensors.ts';

// test/golden/optimizers.json (made by scripts/torch_reference.py --make-golden, described in
// test/golden/README.md) against its files: no GPU, no PyTorch. The engine's optimizer parity tests
// trust this manifest for file names, hyper-parameters, step counts, schedules and per-step lrs.

const GOLDEN = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'test/golden');

interface SgdConfig {
  kind: 'sgd';
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}
interface AdamConfig {
  kind: 'adam' | 'adamw';
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}
interface Schedule {
  kind: 'constant' | 'step' | 'cosine';
  warmupSteps: number;
  stepSize?: number;
  gamma?: number;
  tMax?: number;
  etaMin?: number;
}
interface PerTensor {
  changeRelL2: Record<string, number>;
}
interface Case {
  name: string;
  optimizer: SgdConfig | AdamConfig;
  schedule: Schedule;
  steps: number;
  batchSize: number;
  trainSubset: number;
  epochs: number;
  stepsPerEpoch: number;
  shuffle: boolean;
  init: string;
  files: { after: string; losses: string; afterF64: string; lossesF64: string };
  lrPerStep: number[];
  spread: PerTensor & { max: number; lossMaxAbs: number };
  contrasts: (PerTensor & { what: string; flags: string; min: number })[];
  commands: { float32: string; float64: string };
}
interface Manifest {
  format: number;
  remake: string;
  model: { layers: number[]; init: string };
  cases: Case[];
}

const manifest = JSON.parse(readFileSync(join(GOLDEN, 'optimizers.json'), 'utf8')) as Manifest;
const MNIST_TRAIN_SAMPLES = 60000;
/** The parity tests' tolerance on the change from the init; the goldens must be far finer and tell features apart far more. */
const PARITY_TOLERANCE = 1e-3;

/** An independent reader: every tensor as exact float64 values, with its stored dtype. */
function readExact(file: string): Map<string, { dtype: string; shape: number[]; values: Float64Array }> {
  const bytes = readFileSync(join(GOLDEN, file));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, { dtype: string; shape: number[]; values: Float64Array }>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const size = info.dtype === 'F64' ? 8 : 4;
    const [begin, end] = info.data_offsets;
    const values = new Float64Array((end - begin) / size);
    for (let i = 0; i < values.length; i++) {
      const at = 8 + headerLength + begin + i * size;
      values[i] = size === 8 ? view.getFloat64(at, true) : view.getFloat32(at, true);
    }
    out.set(name, { dtype: info.dtype, shape: info.shape, values });
  }
  return out;
}

/** ‖Δours − Δref‖₂ / ‖Δref‖₂, Δ = tensor − init: test/parity.test.ts's metric, as the script computes it. */
function relChange(init: Float64Array, ours: Float64Array, ref: Float64Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < init.length; i++) {
    const a = ours[i]! - init[i]!;
    const b = ref[i]! - init[i]!;
    diff += (a - b) ** 2;
    norm += b ** 2;
  }
  return Math.sqrt(diff / norm);
}

/** The schedule of test/golden/README.md: lr(e) · warm-up factor(s), epoch e and step s from 0. */
function scheduledLr(c: Case, step: number): number {
  const { lr } = c.optimizer;
  const s = c.schedule;
  const epoch = Math.floor(step / c.stepsPerEpoch);
  let epochLr = lr;
  if (s.kind === 'step') epochLr = lr * s.gamma! ** Math.floor(epoch / s.stepSize!);
  if (s.kind === 'cosine') epochLr = s.etaMin! + ((lr - s.etaMin!) * (1 + Math.cos((Math.PI * epoch) / s.tMax!))) / 2;
  const warm = step < s.warmupSteps ? (step + 1) / s.warmupSteps : 1;
  return epochLr * warm;
}

function losses(file: string): number[] {
  return JSON.parse(readFileSync(join(GOLDEN, file), 'utf8')) as number[];
}

describe('test/golden/optimizers.json', () => {
  it('lists unique cases over the parity init, with every optimizer, schedule and warm-up', () => {
    expect(manifest.format).toBe(1);
    expect(manifest.model.init).toBe('parity-init.safetensors');
    const names = manifest.cases.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    const kinds = new Set(manifest.cases.map((c) => c.optimizer.kind));
    expect([...kinds].sort()).toEqual(['adam', 'adamw', 'sgd']);
    const schedules = new Set(manifest.cases.map((c) => c.schedule.kind));
    expect([...schedules].sort()).toEqual(['constant', 'cosine', 'step']);
    expect(manifest.cases.some((c) => c.schedule.warmupSteps > 1 && c.schedule.kind !== 'constant')).toBe(true);
    expect(manifest.cases.some((c) => c.optimizer.kind === 'sgd' && c.optimizer.nesterov)).toBe(true);
    expect(manifest.cases.some((c) => c.optimizer.kind === 'sgd' && c.optimizer.dampening > 0 && c.optimizer.weightDecay > 0)).toBe(true);
  });

  it('keeps the fixtures small (under 2 MB together)', () => {
    let total = statSync(join(GOLDEN, 'optimizers.json')).size;
    for (const c of manifest.cases) for (const file of Object.values(c.files)) total += statSync(join(GOLDEN, file)).size;
    expect(total).toBeLessThan(2_000_000);
  });

  for (const c of manifest.cases) {
    describe(c.name, () => {
      it('has consistent run parameters and hyper-parameters', () => {
        expect(c.init).toBe(manifest.model.init);
        expect(c.shuffle).toBe(false);
        expect(Number.isInteger(c.steps) && c.steps > 0).toBe(true);
        expect(c.trainSubset).toBeGreaterThan(0);
        expect(c.trainSubset).toBeLessThanOrEqual(MNIST_TRAIN_SAMPLES);
        expect(c.stepsPerEpoch).toBe(Math.ceil(c.trainSubset / c.batchSize));
        // the run ends in its last epoch: epochs is what fit({ epochs, maxSteps: steps }) needs
        expect(c.steps).toBeGreaterThan((c.epochs - 1) * c.stepsPerEpoch);
        expect(c.steps).toBeLessThanOrEqual(c.epochs * c.stepsPerEpoch);
        const o = c.optimizer;
        expect(o.lr).toBeGreaterThan(0);
        expect(o.weightDecay).toBeGreaterThanOrEqual(0);
        if (o.kind === 'sgd') {
          expect(Object.keys(o).sort()).toEqual(['dampening', 'kind', 'lr', 'momentum', 'nesterov', 'weightDecay']);
          if (o.nesterov) expect(o.momentum > 0 && o.dampening === 0).toBe(true);
        } else {
          expect(Object.keys(o).sort()).toEqual(['betas', 'eps', 'kind', 'lr', 'weightDecay']);
          expect(o.betas.every((b) => b >= 0 && b < 1)).toBe(true);
          expect(o.eps).toBeGreaterThan(0);
        }
        if (c.schedule.kind !== 'constant' || c.schedule.warmupSteps > 1) {
          expect(Math.ceil(c.steps / c.stepsPerEpoch), 'a schedule case crosses at least 3 epochs').toBeGreaterThanOrEqual(3);
        }
      });

      it('lists the lr of every step as the documented schedule gives it', () => {
        expect(c.lrPerStep).toHaveLength(c.steps);
        c.lrPerStep.forEach((lr, s) => {
          expect(Math.abs(lr - scheduledLr(c, s)), `lr of step ${s}`).toBeLessThanOrEqual(1e-12 * c.optimizer.lr);
        });
      });

      it('has weight files that decode, with the init’s tensors, changed by training', () => {
        const init = decodeSafetensors(readFileSync(join(GOLDEN, c.init)), c.init).tensors;
        for (const [file, dtype] of [
          [c.files.after, 'F32'],
          [c.files.afterF64, 'F64'],
        ] as const) {
          expect(existsSync(join(GOLDEN, file)), file).toBe(true);
          const decoded = decodeSafetensors(readFileSync(join(GOLDEN, file)), file).tensors;
          expect([...decoded.keys()]).toEqual([...init.keys()]);
          const exact = readExact(file);
          for (const [name, t] of decoded) {
            expect(t.shape, `${file}: ${name}`).toEqual(init.get(name)!.shape);
            expect(exact.get(name)!.dtype).toBe(dtype);
            expect(t.data.every(Number.isFinite), `${file}: ${name} finite`).toBe(true);
            expect(
              t.data.some((v, i) => v !== init.get(name)!.data[i]),
              `${file}: ${name} changed`,
            ).toBe(true);
          }
        }
      });

      it('has finite losses, one per step, starting from the parity run’s first loss', () => {
        const l32 = losses(c.files.losses);
        const l64 = losses(c.files.lossesF64);
        expect(l32).toHaveLength(c.steps);
        expect(l64).toHaveLength(c.steps);
        for (const l of [...l32, ...l64]) expect(Number.isFinite(l) && l > 0).toBe(true);
        // every case's first step is the same forward pass (same init, samples 0..63)
        expect(l32[0]).toBe(losses('parity-losses-40.json')[0]);
        expect(Math.max(...l32.map((v, i) => Math.abs(v - l64[i]!)))).toBe(c.spread.lossMaxAbs);
      });

      it('records the float32-vs-float64 spread the files show, far under the parity tolerance', () => {
        const init = readExact(c.init);
        const after = readExact(c.files.after);
        const after64 = readExact(c.files.afterF64);
        expect(Object.keys(c.spread.changeRelL2)).toEqual([...init.keys()]);
        for (const [name, t] of init) {
          const spread = relChange(t.values, after.get(name)!.values, after64.get(name)!.values);
          expect(Math.abs(spread - c.spread.changeRelL2[name]!), name).toBeLessThanOrEqual(1e-9 * spread + 1e-15);
        }
        expect(c.spread.max).toBe(Math.max(...Object.values(c.spread.changeRelL2)));
        expect(c.spread.max).toBeLessThan(PARITY_TOLERANCE / 100);
      });

      it('tells each contrasted feature apart by far more than the parity tolerance', () => {
        expect(c.contrasts.length).toBeGreaterThan(0);
        for (const k of c.contrasts) {
          expect(k.min).toBe(Math.min(...Object.values(k.changeRelL2)));
          expect(k.min, k.what).toBeGreaterThan(10 * PARITY_TOLERANCE);
        }
      });

      it('records the commands that remake its files, with relative paths only', () => {
        expect(c.commands.float32).toContain(`--save test/golden/${c.files.after}`);
        expect(c.commands.float32).toContain(`--loss-log test/golden/${c.files.losses}`);
        expect(c.commands.float32).not.toContain('--dtype float64');
        expect(c.commands.float64).toContain('--dtype float64');
        expect(c.commands.float64).toContain(`--save test/golden/${c.files.afterF64}`);
        expect(c.commands.float64).toContain(`--loss-log test/golden/${c.files.lossesF64}`);
        for (const command of [c.commands.float32, c.commands.float64]) {
          const [python, script, ...rest] = command.split(' ');
          expect([python, script]).toEqual(['/usr/bin/python3', 'scripts/torch_reference.py']);
          expect(rest.filter((arg) => arg.startsWith('/'))).toEqual([]);
          expect(command).toContain(`--steps ${c.steps}`);
        }
      });
    });
  }
});
