/**
 * Kernel microbenchmarks (browser-safe core; bench-kernels.ts is the Node CLI). Each of the
 * engine's kernels at the MLP's shapes, plus one large matmul, made exactly as network.ts makes
 * them (same specs, overrides, grids, flat parameter buffer and offsets), then:
 *   1. check: one dispatch on random inputs with poisoned outputs, compared with a float64 CPU
 *      reference (reference.ts); a kernel that fails is reported and not timed;
 *   2. bench: passes of `reps` back-to-back dispatches (each writes what the next one writes, so
 *      they run one after another, as in a training step), timed with timestamp queries at the
 *      pass's ends when the device has them, else by wall clock from submit to
 *      onSubmittedWorkDone; the median pass over `samples` gives the time per dispatch.
 */
import { data, gatherGrid, gatherOverrides, MNIST_NORMALIZATION } from '../src/kernels/data.ts';
import { denseGrid, matmul, matmulOverrides, type DenseEntry, type DenseShape } from '../src/kernels/matmul.ts';
import { hyperData, sgd, sgdGrid, sgdOverrides } from '../src/kernels/sgd.ts';
import {
  headOverrides,
  reductionGrid,
  reductionWorkgroup,
  softmaxCe,
  softmaxCeOverrides,
  STEP_STAT_BYTES,
} from '../src/kernels/softmax-ce.ts';
import type { Grid } from '../src/kernels/spec.ts';
import { initParams, paramLayout, SEED_LAYERS, type ParamLayout } from '../src/model/layout.ts';
import { destroyDataset, GpuParameters, StepTable, TrainProgram, tuningFor, uploadDataset, type Tuning } from '../src/model/network.ts';
import { Rng } from '../src/model/rng.ts';
import { InputError } from '../src/runtime/errors.ts';
import type { AdapterSummary, Gpu } from '../src/runtime/device.ts';
import { bindGroup, dispatch, type BindingResource, type Kernel } from '../src/runtime/pipelines.ts';
import {
  backwardFusedCost,
  forwardCost,
  gatherCost,
  gradInputCost,
  gradWeightCost,
  gradWeightSgdCost,
  headCost,
  sgdCost,
  softmaxCeCost,
  stepKernels,
} from './costs.ts';
import {
  combine,
  compare,
  forwardRef,
  gatherRef,
  gradInputRef,
  gradWeightRef,
  sgdRef,
  softmaxCeRef,
  type DenseRef,
  type Hyper,
  type Mismatch,
  type Reference,
} from './reference.ts';
import { describeTuning, engineTunings, entryFor, variantOf } from './tunings.ts';
import { median } from './workload.ts';

export const KERNELS_SCHEMA = 'webgpu-mnist-kernels/1';

export interface KernelBenchOptions {
  readonly layers: readonly number[];
  readonly batchSize: number;
  /** edge of the large square matmul (M = N = K); 0 skips it */
  readonly large: number;
  /** use timestamp queries when the device has them */
  readonly timestamps: boolean;
  /** aim for timed passes this long */
  readonly passSeconds: number;
  /** timed passes per kernel (fewer when a pass is long: see caseSeconds) */
  readonly samples: number;
  /** stop adding passes once a kernel has had this much time (at least 3 passes) */
  readonly caseSeconds: number;
  readonly maxReps: number;
  /** only the cases whose name contains this */
  readonly only?: string;
  /** which matmul variant to time, or `all` (the trainer's choice for the adapter first) */
  readonly variant: string;
  /** also replay whole training steps (TrainProgram) back to back, per variant */
  readonly replay: boolean;
}

/** 4096³ on a GPU; 1024³ on a software adapter, where 4096³ would take minutes a dispatch. */
export function defaultLarge(adapter: AdapterSummary): number {
  return adapter.isFallback ? 1024 : 4096;
}

export function defaultKernelOptions(adapter: AdapterSummary): KernelBenchOptions {
  return {
    layers: SEED_LAYERS,
    batchSize: 64,
    large: defaultLarge(adapter),
    timestamps: true,
    passSeconds: adapter.isFallback ? 0.1 : 0.02,
    samples: 9,
    caseSeconds: adapter.isFallback ? 1.5 : 0.5,
    maxReps: 4096,
    variant: 'all',
    replay: true,
  };
}

/** Options as given on the command line, plain JSON (they travel into the page); kernelOptions fills in the rest. */
export type KernelFlags = Partial<Omit<KernelBenchOptions, 'layers'>>;

export function kernelOptions(given: KernelFlags, adapter: AdapterSummary): KernelBenchOptions {
  return { ...defaultKernelOptions(adapter), ...given };
}

export interface CaseResult {
  readonly name: string;
  readonly kernel: string;
  /** 1-based dense layer, for the MLP-shape matmuls */
  readonly layer?: number;
  /** matmul variant (`tiles`, `rows`, …: tunings.ts) */
  readonly variant?: string;
  readonly what: string;
  readonly grid: Grid;
  readonly flops: number;
  readonly bytes: number;
  readonly check: Mismatch;
  /** absent when the check failed */
  readonly timing?: {
    readonly method: 'timestamp-query' | 'wall-clock';
    readonly reps: number;
    readonly samples: number;
    /** median over passes of (pass time / reps) */
    readonly microsecondsPerDispatch: number;
    readonly minMicrosecondsPerDispatch: number;
    /** wall clock, submit to onSubmittedWorkDone, over all passes' dispatches: includes submit latency */
    readonly wallMicrosecondsPerDispatch: number;
    readonly gflopsPerSecond: number;
    readonly gbPerSecond: number;
  };
}

export interface StepBreakdown {
  readonly variant: string;
  readonly trainerDefault: boolean;
  readonly fusedUpdate: boolean;
  readonly dispatches: number;
  /** Σ over the step's dispatches of each one's median time */
  readonly microseconds: number;
  readonly parts: readonly { readonly name: string; readonly microseconds: number; readonly share: number }[];
  /** the step's dispatches that were not timed (filtered out or failed) */
  readonly missing: readonly string[];
}

/** Whole training steps (network.ts TrainProgram on synthetic data) encoded back to back in one pass: GPU time per step without the trainer's host work. */
export interface StepReplay {
  readonly variant: string;
  readonly trainerDefault: boolean;
  readonly fusedUpdate: boolean;
  readonly dispatches: number;
  /** every replayed step's loss was finite */
  readonly finite: boolean;
  /** per replayed step (`microsecondsPerDispatch` is µs per step here), GFLOP/s and GB/s of the whole step */
  readonly timing: NonNullable<CaseResult['timing']>;
}

export interface KernelBenchResult {
  readonly schema: typeof KERNELS_SCHEMA;
  readonly date: string;
  readonly runtime: 'chrome' | 'node';
  readonly environment: Readonly<Record<string, string | number>>;
  readonly command: string;
  readonly adapter: AdapterSummary;
  readonly isFallback: boolean;
  readonly hasTimestamps: boolean;
  readonly options: KernelBenchOptions;
  readonly variants: readonly { readonly name: string; readonly tuning: string; readonly trainerDefault: boolean }[];
  readonly cases: readonly CaseResult[];
  readonly steps: readonly StepBreakdown[];
  readonly replays: readonly StepReplay[];
  readonly allChecksPassed: boolean;
}

interface Prepared {
  readonly grid: Grid;
  encode(pass: GPUComputePassEncoder): void;
  /** compares the outputs of the one dispatch run so far with the CPU reference */
  check(): Promise<Mismatch>;
}

interface CaseSpec {
  readonly name: string;
  readonly kernel: string;
  readonly layer?: number;
  readonly variant?: string;
  readonly what: string;
  readonly flops: number;
  readonly bytes: number;
  prepare(ctx: CaseContext): Promise<Prepared>;
}

const HYPER: Hyper = { lr: 0.01, momentum: 0.5, weightDecay: 1e-4 };
const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Buffers of one case, all destroyed after it. */
class CaseContext {
  private readonly made: GPUBuffer[] = [];
  readonly rng: Rng;

  constructor(
    readonly gpu: Gpu,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  random(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.rng.nextFloat() * 2 - 1) * scale;
    return out;
  }

  /** A storage buffer holding `contents`, or `contents` floats of NaN (poison: an unwritten output shows). */
  storage(label: string, contents: ArrayBufferView | number): GPUBuffer {
    const init = typeof contents === 'number' ? new Float32Array(contents).fill(Number.NaN) : contents;
    return this.keep(this.gpu.buffers.create(`bench.${label}`, init.byteLength, STORAGE(), init));
  }

  uniform(label: string, contents: ArrayBufferView): GPUBuffer {
    return this.keep(
      this.gpu.buffers.create(`bench.${label}`, contents.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, contents),
    );
  }

  keep(buffer: GPUBuffer): GPUBuffer {
    this.made.push(buffer);
    return buffer;
  }

  async f32(buffer: GPUBuffer): Promise<Float32Array> {
    return new Float32Array(await this.gpu.read(buffer));
  }

  async u32(buffer: GPUBuffer): Promise<Uint32Array> {
    return new Uint32Array(await this.gpu.read(buffer));
  }

  prepared(
    kernel: Kernel,
    label: string,
    resources: Record<string, BindingResource>,
    grid: Grid,
    offsets?: number[],
    check?: () => Promise<Mismatch>,
  ): Prepared {
    const group = bindGroup(this.gpu.device, kernel, `bench.${label}`, resources);
    return {
      grid,
      encode: (pass) => dispatch(pass, kernel, group, grid, offsets),
      check: check ?? (async () => ({ ok: true, checked: 0, maxAbsError: 0 })),
    };
  }

  destroy(): void {
    for (const b of this.made) this.gpu.buffers.destroy(b);
    this.made.length = 0;
  }
}

function denseRef(layout: ParamLayout, l: number, rows: number): DenseRef & DenseShape {
  const d = layout.dense[l]!;
  return { ...d, rows, M: rows, N: d.outFeatures, K: d.inFeatures, wOff: d.weightOffset, bOff: d.biasOffset };
}

/** The parameters' flat buffer as the model has it: every layer's W and b at their offsets, U(±1/√fan_in). */
function flatParams(ctx: CaseContext, layout: ParamLayout): Float32Array {
  const flat = new Float32Array(layout.totalFloats);
  for (const d of layout.dense) {
    const bound = 1 / Math.sqrt(d.inFeatures);
    flat.set(ctx.random(d.inFeatures * d.outFeatures, bound), d.weightOffset);
    flat.set(ctx.random(d.outFeatures, bound), d.biasOffset);
  }
  return flat;
}

/** W and b of one layer out of a flat buffer, as one array (W then b). */
function layerSlice(flat: Float32Array, s: DenseRef): Float32Array {
  const out = new Float32Array(s.N * s.K + s.N);
  out.set(flat.subarray(s.wOff, s.wOff + s.N * s.K));
  out.set(flat.subarray(s.bOff, s.bOff + s.N), s.N * s.K);
  return out;
}

/** The SGD update of one layer from its gradient (W then b): expected params_out and velocity. */
function updateRef(params: Float32Array, velocity: Float32Array, grad: Reference, s: DenseRef): { w: Reference; v: Reference } {
  const p = layerSlice(params, s);
  const v0 = layerSlice(velocity, s);
  const w = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) [w[i], v[i]] = sgdRef(p[i]!, v0[i]!, grad.value[i]!, HYPER);
  const abs = grad.absSum ?? new Float64Array(p.length);
  return { w: { value: w, absSum: abs.map((a) => a * HYPER.lr) }, v: { value: v, absSum: abs } };
}

/** A matmul variant to bench: one of the engine's tunings. */
export interface Variant {
  /** tunings.ts variantOf: `tiles`, `rows`, … */
  readonly name: string;
  readonly tuning: Tuning;
  /** the tuning the trainer picks for this adapter (configFor) */
  readonly trainerDefault: boolean;
}

/** The trainer's tuning for this adapter first, then the engine's others (only `choice` unless it is `all`). */
export function variantsFor(gpu: Gpu, choice = 'all'): Variant[] {
  const trainer = tuningFor(gpu.adapter);
  const all = [trainer, ...engineTunings().filter((t) => variantOf(t) !== variantOf(trainer))];
  return all
    .filter((t) => choice === 'all' || variantOf(t) === choice)
    .map((tuning) => ({ name: variantOf(tuning), tuning, trainerDefault: tuning === trainer }));
}

/** One matmul entry point at one shape, its inputs random, its outputs poisoned, checked against reference.ts. */
function matmulCase(
  entry: DenseEntry,
  s: DenseRef & DenseShape,
  layout: ParamLayout,
  v: Variant,
  name: string,
  what: string,
  layer?: number,
): CaseSpec {
  const flags = {
    relu: entry === 'forward' && layer !== undefined && layer < layout.dense.length,
    maskRelu: entry === 'grad_input' || entry === 'backward_fused',
  };
  const cost =
    entry === 'forward'
      ? forwardCost(s.M, s.N, s.K)
      : entry === 'grad_input'
        ? gradInputCost(s.M, s.N, s.K, true)
        : entry === 'grad_weight'
          ? gradWeightCost(s.M, s.N, s.K)
          : entry === 'grad_weight_sgd'
            ? gradWeightSgdCost(s.M, s.N, s.K)
            : backwardFusedCost(s.M, s.N, s.K);
  const large = layer === undefined;
  return {
    name: `${name} [${v.name}]`,
    kernel: `matmul.${entry}`,
    ...(layer !== undefined ? { layer } : {}),
    variant: v.name,
    what,
    ...cost,
    async prepare(ctx) {
      const t = v.tuning.matmul;
      const kernel = await ctx.gpu.pipelines.get(matmul, entryFor(entry, t), matmulOverrides(s, t, flags));
      const grid = denseGrid(entry, s, t);
      const label = `${entry}.${name}.${v.name}`;
      const x = ctx.random(s.M * s.K);
      const params = large ? ctx.random(layout.totalFloats, 1 / Math.sqrt(s.K)) : flatParams(ctx, layout);
      const dy = entry === 'forward' ? new Float32Array(0) : ctx.random(s.M * s.N, 0.1);
      const xBuffer = ctx.storage('x', x);
      const paramsBuffer = () => ctx.storage('params', params);
      const dyBuffer = () => ctx.storage('dy', dy);
      switch (entry) {
        case 'forward': {
          const y = ctx.storage('y', s.M * s.N);
          return ctx.prepared(kernel, label, { x: xBuffer, params: paramsBuffer(), y }, grid, undefined, async () => {
            // At 4096³ a full float64 reference is minutes of JS: check the corners and 2048 random outputs.
            const sample = large
              ? [0, s.N - 1, s.M * s.N - s.N, s.M * s.N - 1, ...Array.from({ length: 2048 }, () => ctx.rng.nextBelow(s.M * s.N))]
              : undefined;
            return compare(large ? 'Y (sampled)' : 'Y', await ctx.f32(y), forwardRef(x, params, s, flags.relu, sample), { terms: s.K });
          });
        }
        case 'grad_input': {
          const dx = ctx.storage('dx', s.M * s.K);
          return ctx.prepared(kernel, label, { x: xBuffer, params: paramsBuffer(), dy: dyBuffer(), dx }, grid, undefined, async () =>
            compare('dX', await ctx.f32(dx), gradInputRef(dy, params, x, s, true), { terms: s.N }),
          );
        }
        case 'grad_weight': {
          const grads = ctx.storage('grads', layout.totalFloats);
          return ctx.prepared(kernel, label, { x: xBuffer, dy: dyBuffer(), grads }, grid, undefined, async () =>
            compare('dW,db', layerSlice(await ctx.f32(grads), s), gradWeightRef(dy, x, s), { terms: s.M }),
          );
        }
        default: {
          const velocity = ctx.random(layout.totalFloats, 0.01);
          const paramsOut = ctx.storage('params_out', layout.totalFloats);
          const velocityBuffer = ctx.storage('velocity', velocity);
          const dx = entry === 'backward_fused' ? ctx.storage('dx', s.M * s.K) : undefined;
          const resources = {
            x: xBuffer,
            params: paramsBuffer(),
            dy: dyBuffer(),
            ...(dx ? { dx } : {}),
            params_out: paramsOut,
            velocity: velocityBuffer,
            hyper: ctx.uniform('hyper', hyperData(HYPER)),
          };
          return ctx.prepared(kernel, label, resources, grid, undefined, async () => {
            const update = updateRef(params, velocity, gradWeightRef(dy, x, s), s);
            return combine([
              ...(dx ? [compare('dX', await ctx.f32(dx), gradInputRef(dy, params, x, s, true), { terms: s.N })] : []),
              compare('W,b out', layerSlice(await ctx.f32(paramsOut), s), update.w, { terms: s.M }),
              compare('velocity', layerSlice(await ctx.f32(velocityBuffer), s), update.v, { terms: s.M }),
            ]);
          });
        }
      }
    },
  };
}

function cases(o: KernelBenchOptions, variants: readonly Variant[], reductionWg: number): CaseSpec[] {
  const layout = paramLayout(o.layers);
  const L = layout.dense.length;
  const B = o.batchSize;
  const features = o.layers[0]!;
  const classes = o.layers[L]!;
  const out: CaseSpec[] = [];

  out.push({
    name: 'gather',
    kernel: 'data.gather',
    what: `${B}×${features} u8 → f32, shuffled`,
    ...gatherCost(B, features),
    async prepare(ctx) {
      const samples = 4 * B + 3;
      const images = new Uint8Array(samples * features).map(() => ctx.rng.nextBelow(256));
      const labels = new Uint8Array(samples).map(() => ctx.rng.nextBelow(10));
      const order = ctx.rng.permutation(samples);
      const steps = new StepTable(ctx.gpu, 'bench.steps', 2, B);
      ctx.keep(steps.buffer);
      const x = ctx.storage('x', B * features);
      const y = ctx.storage('y', B);
      const kernel = await ctx.gpu.pipelines.get(data, 'gather', gatherOverrides(B, features, true, MNIST_NORMALIZATION));
      const resources = {
        images: ctx.storage('images', images),
        labels: ctx.storage('labels', labels),
        order: ctx.storage('order', order),
        x,
        y,
        step: steps.binding(),
      };
      // slot 1: the batch starts at position B of the order, not at 0
      return ctx.prepared(kernel, 'gather', resources, gatherGrid(B, features), steps.offset(1), async () => {
        const want = gatherRef(images, labels, order, B, B, features, MNIST_NORMALIZATION);
        return combine([
          compare('x', await ctx.f32(x), want.x, { atol: 1e-5, rtol: 1e-5 }),
          compare('y', await ctx.u32(y), want.y, { atol: 0, rtol: 0 }),
        ]);
      });
    },
  });

  out.push({
    name: 'softmax_ce train',
    kernel: 'softmax_ce.train',
    what: `${B}×${classes}`,
    ...softmaxCeCost(B, classes),
    async prepare(ctx) {
      const logits = ctx.random(B * classes, 4);
      const labels = new Uint32Array(B).map(() => ctx.rng.nextBelow(classes));
      const steps = new StepTable(ctx.gpu, 'bench.steps', 2, B);
      ctx.keep(steps.buffer);
      const dlogits = ctx.storage('dlogits', B * classes);
      const rowLoss = ctx.storage('row_loss', B);
      const stats = ctx.storage('stats', (2 * STEP_STAT_BYTES) / 4);
      const kernel = await ctx.gpu.pipelines.get(softmaxCe, 'train', softmaxCeOverrides(B, classes, reductionWorkgroup(B, reductionWg)));
      const resources = {
        logits: ctx.storage('logits', logits),
        labels: ctx.storage('labels', labels),
        dlogits,
        row_loss: rowLoss,
        stats,
        step: steps.binding(),
      };
      return ctx.prepared(kernel, 'softmax_ce', resources, reductionGrid, steps.offset(1), async () => {
        const want = softmaxCeRef(logits, labels, B, classes);
        const statWords = await ctx.gpu.read(stats);
        const stat = { loss: new Float32Array(statWords)[2]!, correct: new Uint32Array(statWords)[3]! };
        return combine([
          compare('dlogits', await ctx.f32(dlogits), want.dlogits, { atol: 1e-6, rtol: 1e-4 }),
          compare('row_loss', await ctx.f32(rowLoss), want.rowLoss, { atol: 1e-5, rtol: 1e-4 }),
          compare('mean loss', [stat.loss], Float64Array.of(want.meanLoss), { atol: 1e-5, rtol: 1e-4 }),
          compare('correct', [stat.correct], Uint32Array.of(want.correct), { atol: 0, rtol: 0 }),
        ]);
      });
    },
  });

  {
    const s = denseRef(layout, L - 1, B);
    out.push({
      name: `train_head l${L}`,
      kernel: 'softmax_ce.train_head',
      layer: L,
      what: `(${B}×${s.K})·(${s.N}×${s.K})ᵀ + softmax-CE + dX, dW, SGD`,
      ...headCost(B, s.N, s.K),
      async prepare(ctx) {
        const hidden = ctx.random(B * s.K).map((v) => Math.max(v, 0));
        const params = flatParams(ctx, layout);
        const velocity = ctx.random(layout.totalFloats, 0.01);
        const labels = new Uint32Array(B).map(() => ctx.rng.nextBelow(s.N));
        const steps = new StepTable(ctx.gpu, 'bench.steps', 2, B);
        ctx.keep(steps.buffer);
        const stats = ctx.storage('stats', (2 * STEP_STAT_BYTES) / 4);
        const dhidden = ctx.storage('dhidden', B * s.K);
        const paramsOut = ctx.storage('params_out', layout.totalFloats);
        const velocityBuffer = ctx.storage('velocity', velocity);
        const kernel = await ctx.gpu.pipelines.get(
          softmaxCe,
          'train_head',
          headOverrides({ rows: B, hidden: s.K, classes: s.N, weightOffset: s.wOff, biasOffset: s.bOff }),
        );
        const resources = {
          labels: ctx.storage('labels', labels),
          stats,
          step: steps.binding(),
          hidden: ctx.storage('hidden', hidden),
          params: ctx.storage('params', params),
          dhidden,
          params_out: paramsOut,
          velocity: velocityBuffer,
          hyper: ctx.uniform('hyper', hyperData(HYPER)),
        };
        return ctx.prepared(kernel, 'train_head', resources, reductionGrid, steps.offset(1), async () => {
          const logits = Float32Array.from(forwardRef(hidden, params, s, false).value);
          const ce = softmaxCeRef(logits, labels, B, s.N);
          const dlogits = Float32Array.from(ce.dlogits);
          const update = updateRef(params, velocity, gradWeightRef(dlogits, hidden, s), s);
          const statWords = await ctx.gpu.read(stats);
          return combine([
            compare('mean loss', [new Float32Array(statWords)[2]!], Float64Array.of(ce.meanLoss), { atol: 1e-5, rtol: 1e-4 }),
            compare('correct', [new Uint32Array(statWords)[3]!], Uint32Array.of(ce.correct), { atol: 0, rtol: 0 }),
            compare('dX', await ctx.f32(dhidden), gradInputRef(dlogits, params, hidden, s, true), { terms: s.N }),
            compare('W,b out', layerSlice(await ctx.f32(paramsOut), s), update.w, { terms: B }),
            compare('velocity', layerSlice(await ctx.f32(velocityBuffer), s), update.v, { terms: B }),
          ]);
        });
      },
    });
  }

  out.push({
    name: 'sgd step',
    kernel: 'sgd.step',
    what: `${layout.totalFloats} floats`,
    ...sgdCost(layout.totalFloats),
    async prepare(ctx) {
      const n = layout.totalFloats;
      const params = ctx.random(n, 0.1);
      const grads = ctx.random(n, 0.01);
      const velocity = ctx.random(n, 0.01);
      const paramsBuffer = ctx.storage('params', params);
      const velocityBuffer = ctx.storage('velocity', velocity);
      const kernel = await ctx.gpu.pipelines.get(sgd, 'step', sgdOverrides(n));
      const resources = {
        params: paramsBuffer,
        grads: ctx.storage('grads', grads),
        velocity: velocityBuffer,
        hyper: ctx.uniform('hyper', hyperData(HYPER)),
      };
      return ctx.prepared(kernel, 'sgd', resources, sgdGrid(n), undefined, async () => {
        const w = new Float64Array(n);
        const v = new Float64Array(n);
        for (let i = 0; i < n; i++) [w[i], v[i]] = sgdRef(params[i]!, velocity[i]!, grads[i]!, HYPER);
        return combine([compare('params', await ctx.f32(paramsBuffer), w), compare('velocity', await ctx.f32(velocityBuffer), v)]);
      });
    },
  });

  const shapeText = (s: DenseRef) => `(${s.M}×${s.K})·(${s.N}×${s.K})ᵀ`;
  for (const v of variants) {
    // The fused step's matmuls (the default), then the unfused backward pass (--unfused-update).
    for (let l = 0; l < L; l++) {
      const s = denseRef(layout, l, B);
      out.push(matmulCase('forward', s, layout, v, `forward l${l + 1}`, `${shapeText(s)}${l < L - 1 ? ' +ReLU' : ''}`, l + 1));
    }
    for (let l = L - 1; l >= 1; l--) {
      const s = denseRef(layout, l, B);
      out.push(matmulCase('backward_fused', s, layout, v, `backward_fused l${l + 1}`, `${shapeText(s)} dX+dW+SGD`, l + 1));
    }
    {
      const s = denseRef(layout, 0, B);
      out.push(matmulCase('grad_weight_sgd', s, layout, v, 'grad_weight_sgd l1', `${shapeText(s)} dW+SGD`, 1));
    }
    for (let l = L - 1; l >= 0; l--) {
      const s = denseRef(layout, l, B);
      out.push(matmulCase('grad_weight', s, layout, v, `grad_weight l${l + 1}`, `${shapeText(s)} dW,db`, l + 1));
      if (l > 0) out.push(matmulCase('grad_input', s, layout, v, `grad_input l${l + 1}`, `${shapeText(s)} dX, ReLU mask`, l + 1));
    }
    if (o.large > 0) {
      const S = o.large;
      // One flat buffer, W at 0 and b right after it, as the model's.
      const big = paramLayout([S, S]);
      const d = big.dense[0]!;
      const s = { ...d, rows: S, M: S, N: S, K: S, wOff: d.weightOffset, bOff: d.biasOffset };
      out.push(matmulCase('forward', s, big, v, `forward ${S}³`, `(${S}×${S})·(${S}×${S})ᵀ`));
    }
  }
  return out;
}

/** Runs `reps` dispatches in each of `passes` compute passes, in one submit; times the passes with timestamps when given a query set. */
async function submitPasses(gpu: Gpu, p: Prepared, reps: number, passes: number, querySet?: GPUQuerySet): Promise<number> {
  const encoder = gpu.device.createCommandEncoder({ label: 'bench.kernels' });
  for (let i = 0; i < passes; i++) {
    const pass = encoder.beginComputePass(
      querySet
        ? { label: 'bench.kernels', timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } }
        : { label: 'bench.kernels' },
    );
    for (let r = 0; r < reps; r++) p.encode(pass);
    pass.end();
  }
  const start = performance.now();
  gpu.device.queue.submit([encoder.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
  gpu.check();
  return (performance.now() - start) / 1000;
}

async function timePrepared(
  gpu: Gpu,
  p: Prepared,
  o: KernelBenchOptions,
  useTimestamps: boolean,
): Promise<NonNullable<CaseResult['timing']>> {
  // Calibrate: one dispatch, then enough to see past the submit latency.
  let perDispatch = await submitPasses(gpu, p, 1, 1);
  const probe = Math.max(1, Math.min(o.maxReps, Math.floor(o.passSeconds / Math.max(perDispatch, 1e-7) / 4)));
  if (probe > 1) perDispatch = (await submitPasses(gpu, p, probe, 1)) / probe;
  const reps = Math.max(1, Math.min(o.maxReps, Math.round(o.passSeconds / Math.max(perDispatch, 1e-7))));
  const passSeconds = reps * perDispatch;
  const samples = Math.max(3, Math.min(o.samples, Math.floor(o.caseSeconds / Math.max(passSeconds, 1e-9))));

  const perPass: number[] = [];
  let wall = 0;
  let method: 'timestamp-query' | 'wall-clock' = 'wall-clock';
  if (useTimestamps) {
    const querySet = gpu.device.createQuerySet({ label: 'bench.timestamps', type: 'timestamp', count: 2 * samples });
    const resolve = gpu.buffers.create('bench.timestamps', 16 * samples, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
    try {
      const encoderWall = await submitPasses(gpu, p, reps, samples, querySet);
      const encoder = gpu.device.createCommandEncoder({ label: 'bench.timestamps.resolve' });
      encoder.resolveQuerySet(querySet, 0, 2 * samples, resolve, 0);
      gpu.device.queue.submit([encoder.finish()]);
      const stamps = new BigUint64Array(await gpu.read(resolve));
      for (let i = 0; i < samples; i++) perPass.push(Number(stamps[2 * i + 1]! - stamps[2 * i]!) / 1e9);
      wall = encoderWall;
      // A device may report zeros (timestamps unsupported inside this queue or quantized away): fall back to the wall clock.
      if (perPass.every((t) => t > 0)) method = 'timestamp-query';
      else perPass.length = 0;
    } finally {
      querySet.destroy();
      gpu.buffers.destroy(resolve);
    }
  }
  if (method === 'wall-clock') {
    wall = 0;
    for (let i = 0; i < samples; i++) {
      const t = await submitPasses(gpu, p, reps, 1);
      perPass.push(t);
      wall += t;
    }
  }
  const per = perPass.map((t) => t / reps);
  return {
    method,
    reps,
    samples,
    microsecondsPerDispatch: median(per)! * 1e6,
    minMicrosecondsPerDispatch: Math.min(...per) * 1e6,
    wallMicrosecondsPerDispatch: (wall / (reps * samples)) * 1e6,
    gflopsPerSecond: 0,
    gbPerSecond: 0,
  };
}

export interface KernelRunContext {
  readonly runtime: KernelBenchResult['runtime'];
  readonly environment: KernelBenchResult['environment'];
  readonly command: string;
  readonly log?: (line: string) => void;
}

/** Checks and times every case; the caller owns `gpu` (acquired with `{ timestamps: true }` to get timestamp queries). */
export async function runKernelBench(gpu: Gpu, o: KernelBenchOptions, context: KernelRunContext): Promise<KernelBenchResult> {
  const log = context.log ?? (() => {});
  const useTimestamps = o.timestamps && gpu.hasTimestamps;
  const variants = variantsFor(gpu, o.variant);
  if (variants.length === 0)
    throw new InputError(`this engine has no '${o.variant}' matmul variant (it has ${engineTunings().map(variantOf).join(', ')})`);
  const results: CaseResult[] = [];
  let seed = 1;
  for (const spec of cases(o, variants, tuningFor(gpu.adapter).reductionWorkgroup)) {
    seed++;
    if (o.only && !spec.name.includes(o.only)) continue;
    const ctx = new CaseContext(gpu, seed);
    try {
      const prepared = await spec.prepare(ctx);
      await submitPasses(gpu, prepared, 1, 1);
      const check = await prepared.check();
      const base = {
        name: spec.name,
        kernel: spec.kernel,
        ...(spec.layer ? { layer: spec.layer } : {}),
        ...(spec.variant ? { variant: spec.variant } : {}),
        what: spec.what,
        grid: prepared.grid,
        flops: spec.flops,
        bytes: spec.bytes,
        check,
      };
      if (!check.ok) {
        const w = check.worst;
        log(`${spec.name}: CHECK FAILED${w ? ` at ${w.what}[${w.index}]: got ${w.got}, expected ${w.want}` : ''}; not timed`);
        results.push(base);
        continue;
      }
      const t = await timePrepared(gpu, prepared, o, useTimestamps);
      const seconds = t.microsecondsPerDispatch / 1e6;
      const timing = { ...t, gflopsPerSecond: spec.flops / seconds / 1e9, gbPerSecond: spec.bytes / seconds / 1e9 };
      results.push({ ...base, timing });
      log(
        `${spec.name}: ok (max error ${check.maxAbsError.toExponential(1)}), ${t.microsecondsPerDispatch.toFixed(1)} µs/dispatch (${t.method}, ${t.reps}×${t.samples})`,
      );
    } finally {
      ctx.destroy();
    }
  }
  const replays: StepReplay[] = [];
  if (o.replay && !o.only) {
    for (const v of variants) {
      const r = await replaySteps(gpu, o, v, true, useTimestamps);
      replays.push(r);
      log(
        `training step replay [${v.name}]: ${(r.timing.microsecondsPerDispatch / 1000).toFixed(2)} ms/step (${r.timing.method}, ${r.timing.reps}×${r.timing.samples})`,
      );
    }
  }
  return {
    schema: KERNELS_SCHEMA,
    date: new Date().toISOString(),
    runtime: context.runtime,
    environment: context.environment,
    command: context.command,
    adapter: gpu.adapter,
    isFallback: gpu.adapter.isFallback,
    hasTimestamps: gpu.hasTimestamps,
    options: o,
    variants: variants.map((v) => ({ name: v.name, tuning: describeTuning(v.tuning), trainerDefault: v.trainerDefault })),
    cases: results,
    steps: variants.flatMap((v) => [stepBreakdown(o, results, v, true), stepBreakdown(o, results, v, false)]),
    replays,
    allChecksPassed: results.every((r) => r.check.ok) && replays.every((r) => r.finite),
  };
}

/** A training step's dispatches (costs.ts stepKernels, network.ts's order) matched to the timed cases by kernel, layer and variant. */
function stepBreakdown(o: KernelBenchOptions, results: readonly CaseResult[], v: Variant, fusedUpdate: boolean): StepBreakdown {
  const kernels = stepKernels(o.layers, o.batchSize, fusedUpdate);
  const parts: { name: string; microseconds: number; share: number }[] = [];
  const missing: string[] = [];
  for (const k of kernels) {
    const isMatmul = k.kernel.startsWith('matmul.');
    const timed = results.find((r) => r.kernel === k.kernel && r.layer === k.layer && (!isMatmul || r.variant === v.name));
    const name = timed?.name ?? `${k.kernel}${k.layer ? ` l${k.layer}` : ''}`;
    if (!timed?.timing) missing.push(name);
    else parts.push({ name, microseconds: timed.timing.microsecondsPerDispatch, share: 0 });
  }
  const total = parts.reduce((a, p) => a + p.microseconds, 0);
  for (const p of parts) p.share = total > 0 ? p.microseconds / total : 0;
  return {
    variant: v.name,
    trainerDefault: v.trainerDefault,
    fusedUpdate,
    dispatches: kernels.length,
    microseconds: total,
    parts,
    missing,
  };
}

/**
 * Replays whole optimizer steps as the trainer encodes them (network.ts TrainProgram, same
 * buffers and bind groups), on a synthetic data set of 16 batches, back to back in one pass: the
 * GPU's time per step, without readbacks, snapshots or encoding on the host. Compared with the sum
 * of the isolated kernels it shows what running them in sequence costs (caches, barriers); compared
 * with the training bench's steady ms/step, what the host side costs.
 */
async function replaySteps(gpu: Gpu, o: KernelBenchOptions, v: Variant, fusedUpdate: boolean, useTimestamps: boolean): Promise<StepReplay> {
  const layout = paramLayout(o.layers);
  const B = o.batchSize;
  const slots = 16;
  const count = B * slots;
  const features = o.layers[0]!;
  const rng = new Rng(7);
  const images = new Uint8Array(count * features).map(() => rng.nextBelow(256));
  const labels = new Uint8Array(count).map(() => rng.nextBelow(10));
  const made: GPUBuffer[] = [];
  const dataset = uploadDataset(gpu, { images, labels, count }, 'bench.replay');
  const model = new GpuParameters(gpu, layout);
  let program: TrainProgram | undefined;
  try {
    model.setHyper({ lr: 0.01, momentum: 0.5, weightDecay: 0 });
    model.setWeights(initParams(layout, rng));
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const order = gpu.buffers.create('bench.replay.order', count * 4, storage, rng.permutation(count));
    const stats = gpu.buffers.create(
      'bench.replay.stats',
      slots * STEP_STAT_BYTES,
      storage,
      new Float32Array((slots * STEP_STAT_BYTES) / 4).fill(Number.NaN),
    );
    const steps = new StepTable(gpu, 'bench.replay.steps', slots, B);
    made.push(order, stats, steps.buffer);
    program = await TrainProgram.create(gpu, model, {
      rows: B,
      dataset,
      order,
      steps,
      stats,
      tuning: v.tuning,
      fusedUpdate,
      normalization: MNIST_NORMALIZATION,
    });
    let slot = 0;
    const trainProgram = program;
    const prepared: Prepared = {
      grid: [0, 0, 0],
      encode: (pass) => trainProgram.encode(pass, slot++ % slots),
      check: async () => ({ ok: true, checked: 0, maxAbsError: 0 }),
    };
    const timing = await timePrepared(gpu, prepared, o, useTimestamps);
    const written = Math.min(slot, slots);
    const losses = new Float32Array(await gpu.read(stats)).filter((_, i) => i % 2 === 0).subarray(0, written);
    const seconds = timing.microsecondsPerDispatch / 1e6;
    const cost = stepKernels(o.layers, B, fusedUpdate);
    const flops = cost.reduce((a, k) => a + k.flops, 0);
    const bytes = cost.reduce((a, k) => a + k.bytes, 0);
    return {
      variant: v.name,
      trainerDefault: v.trainerDefault,
      fusedUpdate,
      dispatches: program.dispatchCount,
      finite: losses.every((l) => Number.isFinite(l)),
      timing: { ...timing, gflopsPerSecond: flops / seconds / 1e9, gbPerSecond: bytes / seconds / 1e9 },
    };
  } finally {
    program?.destroy();
    model.destroy();
    destroyDataset(gpu, dataset);
    for (const b of made) gpu.buffers.destroy(b);
  }
}
