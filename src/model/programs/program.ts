/**
 * What every step program shares: its list of dispatches, made once (pipelines, bind groups for
 * both parameter parities), encoded as setPipeline / setBindGroup / dispatch calls with no
 * allocation, no writeBuffer and no waiting; and the activations of one batch size.
 */
import {
  denseDims,
  denseFamily,
  denseGrid,
  denseOverrides,
  denseVec4,
  type DenseEntry,
  type DenseShape,
  type DenseTuning,
} from '../../kernels/dense.ts';
import type { OptimizerRule } from '../../kernels/optimizer.ts';
import type { Grid } from '../../kernels/spec.ts';
import type { Gpu } from '../../runtime/device.ts';
import { bindGroup, dispatch, type Kernel } from '../../runtime/pipelines.ts';
import type { ParamLayout } from '../layout.ts';
import { STORAGE, type GpuParameters, type StepTable } from '../parameters.ts';

/** One dispatch of a program, in encoding order: what the bench's cost model and replay read. */
export interface StepDispatch {
  /** names it in labels and reports: `gather`, `l2.forward`, `l5.train_head`, `optimizer` */
  readonly label: string;
  /** the kernel family by role (`dense` is whichever variant the tuning picks) and its entry point */
  readonly family: 'gather' | 'dense' | 'softmax_ce' | 'optimizer';
  readonly entry: string;
  readonly grid: Grid;
  /** the dense layer it works on (index into layout.dense; `l1` is 0) and that layer's shape at this batch */
  readonly layer?: number;
  readonly shape?: DenseShape;
}

export function denseShape(layout: ParamLayout, l: number, rows: number): DenseShape {
  const d = layout.dense[l]!;
  return { rows, ...d };
}

export function denseDispatch(layout: ParamLayout, l: number, rows: number, entry: DenseEntry, tuning: DenseTuning): StepDispatch {
  const shape = denseShape(layout, l, rows);
  return { label: `l${l + 1}.${entry}`, family: 'dense', entry, grid: denseGrid(entry, shape, tuning), layer: l, shape };
}

/** Forward through the first `layers` layers (all by default). */
export function planForward(layout: ParamLayout, rows: number, tuning: DenseTuning, layers = layout.dense.length): StepDispatch[] {
  return Array.from({ length: layers }, (_, l) => denseDispatch(layout, l, rows, 'forward', tuning));
}

/** The entries that update the parameters (the optimizer fused into the weight gradient). */
export function updatesParameters(entry: string): boolean {
  return entry === 'grad_weight_update' || entry === 'backward_fused';
}

/** The fused ReLUs (after every forward layer but the model's last, and its mask on every dX) and the update rule. */
export function denseFlags(
  layout: ParamLayout,
  d: StepDispatch,
  rule: OptimizerRule = 'sgd',
): { relu: boolean; maskRelu: boolean; rule?: OptimizerRule; vec4: boolean } {
  return {
    relu: d.entry === 'forward' && d.layer! < layout.dense.length - 1,
    maskRelu: d.entry === 'grad_input' || d.entry === 'backward_fused',
    vec4: denseVec4(d.shape!),
    ...(updatesParameters(d.entry) ? { rule } : {}),
  };
}

interface Pass {
  readonly dispatch: StepDispatch;
  readonly kernel: Kernel;
  /** one bind group per parity of the current parameter buffer */
  readonly groups: readonly [GPUBindGroup, GPUBindGroup];
  readonly stepTable?: StepTable;
}

/** Activations (acts[l] is layer l's input, acts[L] the logits) and their gradients for one batch size. */
export class Activations {
  readonly acts: GPUBuffer[];
  readonly grads: GPUBuffer[];
  readonly labels: GPUBuffer;

  /** `layers` buffers of each kind: the train program with train_head needs no logits nor their gradient. */
  constructor(
    private readonly gpu: Gpu,
    label: string,
    layout: ParamLayout,
    rows: number,
    { withGrads, layers = layout.layers.length }: { withGrads: boolean; layers?: number },
  ) {
    const sizes = layout.layers.slice(0, layers);
    this.acts = sizes.map((n, l) => gpu.buffers.create(`${label}.act${l}`, rows * n * 4, STORAGE()));
    // grads[0] would be the gradient of the data: never computed, a placeholder keeps the indices.
    this.grads = withGrads ? sizes.map((n, l) => gpu.buffers.create(`${label}.grad${l}`, l === 0 ? 4 : rows * n * 4, STORAGE())) : [];
    this.labels = gpu.buffers.create(`${label}.labels`, rows * 4, STORAGE());
  }

  destroy(): void {
    for (const b of [...this.acts, ...this.grads, this.labels]) this.gpu.buffers.destroy(b);
  }
}

export abstract class Program {
  private readonly passes: Pass[] = [];
  /** the `dims` uniforms of the dense dispatches, one per layer (its forward and backward share it) */
  private readonly dims = new Map<number, GPUBuffer>();
  protected abstract readonly activations: Activations;

  constructor(
    protected readonly gpu: Gpu,
    protected readonly model: GpuParameters,
    readonly rows: number,
    /** `train64`, `eval1000`, …: prefixes every label */
    protected readonly tag: string,
  ) {}

  /** Builds a new program, destroying its buffers if any pipeline or bind group fails. */
  protected static async finish<P extends Program>(program: P, build: (program: P) => Promise<void>): Promise<P> {
    try {
      await build(program);
    } catch (error) {
      program.destroy();
      throw error;
    }
    return program;
  }

  protected denseKernel(d: StepDispatch, tuning: DenseTuning): Promise<Kernel> {
    const flags = denseFlags(this.model.layout, d, this.model.rule);
    return this.gpu.pipelines.get(denseFamily(tuning), d.entry, denseOverrides(tuning, flags));
  }

  /** The layer's `dims` uniform (its shape at this program's batch), made once. */
  protected denseDims(d: StepDispatch): GPUBuffer {
    const l = d.layer!;
    let buffer = this.dims.get(l);
    if (!buffer) {
      const bytes = denseDims(d.shape!);
      buffer = this.gpu.buffers.create(
        `${this.tag}.l${l + 1}.dims`,
        bytes.byteLength,
        GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        bytes,
      );
      this.dims.set(l, buffer);
    }
    return buffer;
  }

  /** Forward through the first `layers` layers, ReLU fused after all but the model's last: acts[l] → acts[l + 1]. */
  protected async addForward(tuning: DenseTuning, acts: readonly GPUBuffer[], layers?: number): Promise<void> {
    for (const d of planForward(this.model.layout, this.rows, tuning, layers)) {
      const l = d.layer!;
      this.add(d, await this.denseKernel(d, tuning), (p) => ({ x: acts[l]!, params: this.model.params[p], y: acts[l + 1]! }));
    }
  }

  protected add(
    d: StepDispatch,
    kernel: Kernel,
    resources: (parity: 0 | 1) => Record<string, GPUBuffer | { buffer: GPUBuffer; offset: number; size: number }>,
    stepTable?: StepTable,
  ): void {
    // every dense kernel reads its layer's shape from `dims`
    const all = d.family === 'dense' ? (p: 0 | 1) => ({ ...resources(p), dims: this.denseDims(d) }) : resources;
    const group = (p: 0 | 1) => bindGroup(this.gpu.device, kernel, `${this.tag}.${d.label}.p${p}`, all(p));
    this.passes.push({ dispatch: d, kernel, groups: [group(0), group(1)], ...(stepTable ? { stepTable } : {}) });
  }

  /** The program's dispatches in encoding order. */
  get dispatches(): readonly StepDispatch[] {
    return this.passes.map((p) => p.dispatch);
  }

  get dispatchCount(): number {
    return this.passes.length;
  }

  /** Encodes the program into `pass`, reading the current parameters; `slot` picks the StepTable record. */
  encode(pass: GPUComputePassEncoder, slot: number): void {
    const parity = this.model.current;
    for (const p of this.passes) dispatch(pass, p.kernel, p.groups[parity], p.dispatch.grid, p.stepTable?.offset(slot));
  }

  /**
   * Encodes the program as one compute pass per dispatch, each writing its begin and end
   * timestamps at 2i and 2i + 1 of `querySet` (timestamps can only be written at pass
   * boundaries without Chrome's experimental in-pass feature). Reads the current parameters and,
   * unlike a train program's encode(), leaves which buffer is current alone: the caller restores
   * the weights (Trainer.profileStep).
   */
  encodeTimed(encoder: GPUCommandEncoder, slot: number, querySet: GPUQuerySet | undefined): void {
    const parity = this.model.current;
    for (const [i, p] of this.passes.entries()) {
      const pass = encoder.beginComputePass({
        label: `profile.${p.dispatch.label}`,
        ...(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {}),
      });
      dispatch(pass, p.kernel, p.groups[parity], p.dispatch.grid, p.stepTable?.offset(slot));
      pass.end();
    }
  }

  destroy(): void {
    this.activations.destroy();
    for (const b of this.dims.values()) this.gpu.buffers.destroy(b);
    this.dims.clear();
  }
}
