/** What the kernel bench's cases share: the prepared dispatch, the case's buffers, the model-shaped parameters and the expected update. */
import { sgdRef, type DenseRef, type Hyper, type Mismatch, type Reference } from './reference.ts';
import {
  type BindingResource,
  type DenseShape,
  type Grid,
  type Kernel,
  type ParamLayout,
  Rng,
  StepStat,
  StepTable,
  bindGroup,
  dispatch,
  hyperData,
  hyperValues,
  stepValues,
} from './engine.ts';
import { type Device as Gpu, sgd } from '../src/index.ts';

export interface Prepared {
  readonly grid: Grid;
  encode(pass: GPUComputePassEncoder): void;
  /** compares the outputs of the one dispatch run so far with the CPU reference */
  check(): Promise<Mismatch>;
}

export interface CaseSpec {
  readonly name: string;
  readonly kernel: string;
  readonly layer?: number;
  readonly variant?: string;
  readonly what: string;
  readonly flops: number;
  readonly bytes: number;
  prepare(ctx: CaseContext): Promise<Prepared>;
}

export const HYPER: Hyper = { lr: 0.01, momentum: 0.5, weightDecay: 1e-4 };
/** HYPER as the engine's optimizer; its step 2 (the momentum buffer already started, as the random one here). */
const BENCH_SGD = sgd(HYPER);
const BENCH_STEP = 2;
const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Buffers of one case, all destroyed after it. */
export class CaseContext {
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

  /**
   * The bindings of an updating kernel for HYPER's SGD over `count` parameters with momentum
   * `velocity` (its step 2, in slot 0 of a step table), and the dynamic offset of that slot.
   */
  optimizer(count: number, velocity: Float32Array, stats?: GPUBuffer) {
    const steps = new StepTable(this.gpu, 'bench.optimizer.steps', 1, 1);
    this.keep(steps.buffer);
    steps.setOptimizerSteps(this.gpu, 0, [stepValues(BENCH_SGD, HYPER.lr, BENCH_STEP)]);
    const optState = this.storage('velocity', velocity);
    return {
      optState,
      offsets: steps.offset(0),
      resources: {
        opt_state: optState,
        hyper: this.uniform('hyper', hyperData(hyperValues(BENCH_SGD, count))),
        step: steps.binding(),
        step_flags: stats ?? this.storage('stats', new Uint32Array(StepStat.size / 4)),
      },
    };
  }

  /** Writes HYPER's SGD values for the bench's step into `slot` of a kernel's own step table. */
  optimizerStep(table: StepTable, slot: number): void {
    table.setOptimizerSteps(this.gpu, slot, [stepValues(BENCH_SGD, HYPER.lr, BENCH_STEP)]);
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

export function denseRef(layout: ParamLayout, l: number, rows: number): DenseRef & DenseShape {
  const d = layout.dense[l]!;
  return { ...d, rows, M: rows, N: d.outFeatures, K: d.inFeatures, wOff: d.weightOffset, bOff: d.biasOffset };
}

/** The parameters' flat buffer as the model has it: every layer's W and b at their offsets, U(±1/√fan_in). */
export function flatParams(ctx: CaseContext, layout: ParamLayout): Float32Array {
  const flat = new Float32Array(layout.totalFloats);
  for (const d of layout.dense) {
    const bound = 1 / Math.sqrt(d.inFeatures);
    flat.set(ctx.random(d.inFeatures * d.outFeatures, bound), d.weightOffset);
    flat.set(ctx.random(d.outFeatures, bound), d.biasOffset);
  }
  return flat;
}

/** W and b of one layer out of a flat buffer, as one array (W then b). */
export function layerSlice(flat: Float32Array, s: DenseRef): Float32Array {
  const out = new Float32Array(s.N * s.K + s.N);
  out.set(flat.subarray(s.wOff, s.wOff + s.N * s.K));
  out.set(flat.subarray(s.bOff, s.bOff + s.N), s.N * s.K);
  return out;
}

/** The optimizer update (SGD) of one layer from its gradient (W then b): expected params_out and velocity. */
export function updateRef(params: Float32Array, velocity: Float32Array, grad: Reference, s: DenseRef): { w: Reference; v: Reference } {
  const p = layerSlice(params, s);
  const v0 = layerSlice(velocity, s);
  const w = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) [w[i], v[i]] = sgdRef(p[i]!, v0[i]!, grad.value[i]!, HYPER);
  const abs = grad.absSum ?? new Float64Array(p.length);
  return { w: { value: w, absSum: abs.map((a) => a * HYPER.lr) }, v: { value: v, absSum: abs } };
}
