import { data, gatherGrid, gatherOverrides, MNIST_NORMALIZATION, STEP_PARAMS_BYTES, type Normalization } from '../kernels/data.ts';
import { denseGrid, entryName, matmul, matmulOverrides, type DenseEntry, type DenseShape, type MatmulTuning } from '../kernels/matmul.ts';
import { HYPER_BYTES, hyperData, sgd, sgdGrid, sgdOverrides, type SgdHyper } from '../kernels/sgd.ts';
import {
  headOverrides,
  headWorkgroupBytes,
  reductionGrid,
  reductionWorkgroup,
  softmaxCe,
  softmaxCeOverrides,
  softmaxGrid,
} from '../kernels/softmax-ce.ts';
import type { Grid } from '../kernels/spec.ts';
import type { AdapterSummary, Gpu } from '../runtime/device.ts';
import { bindGroup, dispatch, type Kernel } from '../runtime/pipelines.ts';
import type { ParamLayout } from './layout.ts';

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Per-adapter kernel shapes. */
export interface Tuning {
  readonly matmul: MatmulTuning;
  readonly reductionWorkgroup: number;
}

export const TILES_TUNING: Tuning = { matmul: { variant: 'tiles', wgX: 8, wgY: 8, split: 1 }, reductionWorkgroup: 64 };
export const ROWS_TUNING: Tuning = { matmul: { variant: 'rows', wgX: 64, wgY: 1, split: 1 }, reductionWorkgroup: 64 };
export const SPLIT_TUNING: Tuning = { matmul: { variant: 'split', wgX: 4, wgY: 4, split: 16 }, reductionWorkgroup: 64 };
export const DEFAULT_TUNING = TILES_TUNING;
export const TUNINGS: Readonly<Record<MatmulTuning['variant'], Tuning>> = { tiles: TILES_TUNING, rows: ROWS_TUNING, split: SPLIT_TUNING };

/**
 * The kernels for an adapter. Software adapters as measured (bench/RESULTS.md): SwiftShader runs
 * the row-block matmuls fastest (711 vs 925 ms a step for the tiles), lavapipe the register tiles
 * (36 ms a step, against 69 for the split kernels, whose barriers it pays for dearly). GPUs get
 * the split kernels: at batch 64 the tiles' grids hold a few thousand invocations with reductions
 * up to 784 long, far too little to fill a GPU; the split ones launch up to 16× the invocations
 * with 1/16 of the serial chain.
 */
export function tuningFor(adapter: AdapterSummary): Tuning {
  const text = `${adapter.vendor} ${adapter.architecture} ${adapter.device} ${adapter.description}`;
  if (/swiftshader/i.test(text)) return ROWS_TUNING;
  return adapter.isFallback ? TILES_TUNING : SPLIT_TUNING;
}

/** A data split on the GPU as raw bytes: pixels and labels packed 4 to a u32, never expanded to floats. */
export interface GpuDataset {
  readonly images: GPUBuffer;
  readonly labels: GPUBuffer;
  readonly count: number;
  readonly features: number;
}

/** Bytes of a u8 data set: `count × features` pixels and `count` labels. */
export interface ByteSplit {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

export function uploadDataset(gpu: Gpu, split: ByteSplit, label: string): GpuDataset {
  const features = split.images.length / split.count;
  return {
    images: gpu.buffers.create(`${label}.images`, split.images.byteLength, STORAGE(), split.images),
    labels: gpu.buffers.create(`${label}.labels`, split.labels.byteLength, STORAGE(), split.labels),
    count: split.count,
    features,
  };
}

export function destroyDataset(gpu: Gpu, d: GpuDataset | undefined): void {
  gpu.buffers.destroy(d?.images);
  gpu.buffers.destroy(d?.labels);
}

/**
 * A uniform buffer of StepParams { slot, batch_start } records, one per 256-byte (or whatever the
 * device requires) slot, bound with a dynamic offset: the per-step parameters of a whole epoch
 * are written once, and step i of a command buffer selects its record with offset i·stride.
 */
export class StepTable {
  readonly buffer: GPUBuffer;
  readonly stride: number;

  constructor(
    gpu: Gpu,
    label: string,
    readonly slots: number,
    batchSize: number,
  ) {
    this.stride = Math.max(STEP_PARAMS_BYTES, gpu.device.limits.minUniformBufferOffsetAlignment);
    const words = new Uint32Array((slots * this.stride) / 4);
    for (let s = 0; s < slots; s++) {
      words[(s * this.stride) / 4] = s;
      words[(s * this.stride) / 4 + 1] = s * batchSize;
    }
    this.buffer = gpu.buffers.create(label, words.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, words);
  }

  binding() {
    return { buffer: this.buffer, offset: 0, size: STEP_PARAMS_BYTES };
  }

  offset(slot: number): number[] {
    return [slot * this.stride];
  }
}

/** The model's parameters on the GPU: two flat parameter buffers (the fused update writes one while reading the other), momentum, gradients. */
export class GpuParameters {
  readonly params: [GPUBuffer, GPUBuffer];
  readonly velocity: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly hyper: GPUBuffer;
  /** which of `params` holds the current weights */
  current: 0 | 1 = 0;

  constructor(
    private readonly gpu: Gpu,
    readonly layout: ParamLayout,
  ) {
    const bytes = layout.totalFloats * 4;
    this.params = [gpu.buffers.create('params.a', bytes, STORAGE()), gpu.buffers.create('params.b', bytes, STORAGE())];
    this.velocity = gpu.buffers.create('momentum', bytes, STORAGE());
    this.grads = gpu.buffers.create('grads', bytes, STORAGE());
    this.hyper = gpu.buffers.create('hyper', HYPER_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  setHyper(h: SgdHyper): void {
    this.gpu.write(this.hyper, hyperData(h));
  }

  /** Replaces the weights (both copies, so either parity starts from them) and, unless given, zeroes the momentum. */
  setWeights(flat: Float32Array, velocity?: Float32Array): void {
    this.gpu.write(this.params[0], flat);
    this.gpu.write(this.params[1], flat);
    this.gpu.write(this.velocity, velocity ?? new Float32Array(this.layout.totalFloats));
    this.current = 0;
  }

  async readWeights(): Promise<Float32Array> {
    return new Float32Array(await this.gpu.read(this.params[this.current]));
  }

  async readVelocity(): Promise<Float32Array> {
    return new Float32Array(await this.gpu.read(this.velocity));
  }

  destroy(): void {
    for (const b of [...this.params, this.velocity, this.grads, this.hyper]) this.gpu.buffers.destroy(b);
  }
}

interface Pass {
  readonly kernel: Kernel;
  readonly grid: Grid;
  /** one bind group per parity of the current parameter buffer */
  readonly groups: readonly [GPUBindGroup, GPUBindGroup];
  readonly stepTable?: StepTable;
}

/** Activations and gradients for one batch size. */
class Activations {
  readonly acts: GPUBuffer[];
  readonly grads: GPUBuffer[];
  readonly labels: GPUBuffer;
  readonly rowLoss: GPUBuffer;

  constructor(
    private readonly gpu: Gpu,
    label: string,
    layout: ParamLayout,
    rows: number,
    withGrads: boolean,
  ) {
    this.acts = layout.layers.map((n, l) => gpu.buffers.create(`${label}.act${l}`, rows * n * 4, STORAGE()));
    this.grads = withGrads
      ? layout.layers.map((n, l) => gpu.buffers.create(`${label}.grad${l}`, l === 0 ? 4 : rows * n * 4, STORAGE()))
      : [];
    this.labels = gpu.buffers.create(`${label}.labels`, rows * 4, STORAGE());
    this.rowLoss = gpu.buffers.create(`${label}.row_loss`, rows * 4, STORAGE());
  }

  destroy(): void {
    for (const b of [...this.acts, ...this.grads, this.labels, this.rowLoss]) this.gpu.buffers.destroy(b);
  }
}

function denseShape(layout: ParamLayout, l: number, rows: number): DenseShape {
  const d = layout.dense[l]!;
  return { rows, ...d };
}

/**
 * Everything needed to encode one kind of step at a fixed number of rows, made once: pipelines,
 * buffers and bind groups for both parameter parities. Encoding a step is then only
 * setPipeline / setBindGroup / dispatch calls: no allocation, no writeBuffer, no waiting.
 */
export abstract class Program {
  protected readonly passes: Pass[] = [];
  protected abstract readonly activations: Activations;

  constructor(
    protected readonly gpu: Gpu,
    protected readonly model: GpuParameters,
    readonly rows: number,
  ) {}

  protected async addDense(
    label: string,
    entry: DenseEntry,
    l: number,
    flags: { relu?: boolean; maskRelu?: boolean },
    tuning: MatmulTuning,
    resources: (parity: 0 | 1) => Record<string, GPUBuffer>,
  ): Promise<void> {
    const shape = denseShape(this.model.layout, l, this.rows);
    const kernel = await this.gpu.pipelines.get(matmul, entryName(entry, tuning), matmulOverrides(shape, tuning, flags));
    const grid = denseGrid(entry, shape, tuning);
    const group = (p: 0 | 1) => bindGroup(this.gpu.device, kernel, `${label}.l${l + 1}.${entry}.p${p}`, resources(p));
    this.passes.push({ kernel, grid, groups: [group(0), group(1)] });
  }

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

  /** Forward through the first `layers` layers, ReLU fused after all but the model's last: acts[l] → acts[l + 1]. */
  protected async addForward(label: string, tuning: MatmulTuning, acts: readonly GPUBuffer[], layers?: number): Promise<void> {
    const L = this.model.layout.dense.length;
    for (let l = 0; l < (layers ?? L); l++) {
      await this.addDense(label, 'forward', l, { relu: l < L - 1 }, tuning, (p) => ({
        x: acts[l]!,
        params: this.model.params[p],
        y: acts[l + 1]!,
      }));
    }
  }

  protected add(
    kernel: Kernel,
    grid: Grid,
    label: string,
    resources: (parity: 0 | 1) => Record<string, unknown>,
    stepTable?: StepTable,
  ): void {
    const group = (p: 0 | 1) => bindGroup(this.gpu.device, kernel, `${label}.p${p}`, resources(p) as Record<string, GPUBuffer>);
    this.passes.push({ kernel, grid, groups: [group(0), group(1)], ...(stepTable ? { stepTable } : {}) });
  }

  /** Encodes the program into `pass`, reading the current parameters; `slot` picks the StepTable record. */
  encode(pass: GPUComputePassEncoder, slot: number): void {
    const parity = this.model.current;
    for (const p of this.passes) {
      dispatch(pass, p.kernel, p.groups[parity], p.grid, p.stepTable?.offset(slot));
    }
  }

  get dispatchCount(): number {
    return this.passes.length;
  }

  destroy(): void {
    this.activations.destroy();
  }
}

export interface TrainProgramOptions {
  readonly rows: number;
  readonly dataset: GpuDataset;
  readonly order: GPUBuffer;
  readonly steps: StepTable;
  readonly stats: GPUBuffer;
  readonly tuning: Tuning;
  /** SGD fused into the weight-gradient kernels (ping-pong parameters) rather than one SGD pass at the end */
  readonly fusedUpdate: boolean;
  readonly normalization?: Normalization;
}

/** The WebGPU default of maxComputeWorkgroupStorageSize, which the engine's devices keep. */
export const DEFAULT_WORKGROUP_STORAGE = 16_384;

/**
 * Whether a training step runs the output layer's forward, the loss and that layer's backward as
 * one train_head dispatch: it needs the fused update, a hidden layer before the output (its dX is
 * what the head hands back), and room in workgroup memory for the batch's logits.
 */
export function fusesHead(
  layers: readonly number[],
  rows: number,
  fusedUpdate: boolean,
  workgroupStorage = DEFAULT_WORKGROUP_STORAGE,
): boolean {
  return fusedUpdate && layers.length >= 3 && headWorkgroupBytes(rows, layers.at(-1)!) <= workgroupStorage;
}

/**
 * One optimizer step: gather the batch, forward through every layer (ReLU fused), fused
 * softmax-cross-entropy (loss and accuracy into `stats`), then each layer's backward pass. With
 * `fusedUpdate`, a hidden layer's backward pass is one dispatch computing dX and updating W and b,
 * and the output layer's forward, the loss and that layer's backward are one dispatch too: 2L
 * dispatches a step (10 for the seed's MLP), against 1 + L + 1 + 2L without.
 */
export class TrainProgram extends Program {
  protected readonly activations: Activations;
  readonly fusedUpdate: boolean;

  private constructor(
    gpu: Gpu,
    model: GpuParameters,
    private readonly o: TrainProgramOptions,
  ) {
    super(gpu, model, o.rows);
    this.activations = new Activations(gpu, `train${o.rows}`, model.layout, o.rows, true);
    this.fusedUpdate = o.fusedUpdate;
  }

  static create(gpu: Gpu, model: GpuParameters, o: TrainProgramOptions): Promise<TrainProgram> {
    return Program.finish(new TrainProgram(gpu, model, o), (p) => p.build());
  }

  private async build(): Promise<void> {
    const { gpu, model, o } = this;
    const { acts, grads, labels, rowLoss } = this.activations;
    const layout = model.layout;
    const L = layout.dense.length;
    const params = model.params;
    const tag = `train${o.rows}`;
    const features = layout.layers[0]!;
    if (features !== o.dataset.features) {
      throw new Error(`the model takes ${features} inputs but the data set has ${o.dataset.features} per sample`);
    }

    const gather = await gpu.pipelines.get(data, 'gather', gatherOverrides(o.rows, features, true, o.normalization ?? MNIST_NORMALIZATION));
    this.add(
      gather,
      gatherGrid(o.rows, features),
      `${tag}.gather`,
      () => ({ images: o.dataset.images, labels: o.dataset.labels, order: o.order, x: acts[0], y: labels, step: o.steps.binding() }),
      o.steps,
    );
    const classes = layout.layers[L]!;
    const update = (p: 0 | 1) => ({ params_out: params[1 - p]!, velocity: model.velocity, hyper: model.hyper });
    const fusedHead = fusesHead(layout.layers, o.rows, o.fusedUpdate, gpu.device.limits.maxComputeWorkgroupStorageSize);
    await this.addForward(tag, o.tuning.matmul, acts, fusedHead ? L - 1 : L);
    if (fusedHead) {
      const d = layout.dense[L - 1]!;
      const head = await gpu.pipelines.get(
        softmaxCe,
        'train_head',
        headOverrides({ rows: o.rows, hidden: d.inFeatures, classes, weightOffset: d.weightOffset, biasOffset: d.biasOffset }),
      );
      this.add(
        head,
        reductionGrid,
        `${tag}.head`,
        (p) => ({
          labels,
          stats: o.stats,
          step: o.steps.binding(),
          hidden: acts[L - 1],
          params: params[p],
          dhidden: grads[L - 1],
          ...update(p),
        }),
        o.steps,
      );
    } else {
      const wg = reductionWorkgroup(o.rows, o.tuning.reductionWorkgroup);
      const ce = await gpu.pipelines.get(softmaxCe, 'train', softmaxCeOverrides(o.rows, classes, wg));
      this.add(
        ce,
        reductionGrid,
        `${tag}.softmax_ce`,
        () => ({ logits: acts[L], labels, dlogits: grads[L], row_loss: rowLoss, stats: o.stats, step: o.steps.binding() }),
        o.steps,
      );
    }

    const t = o.tuning.matmul;
    for (let l = fusedHead ? L - 2 : L - 1; l >= 0; l--) {
      const common = (p: 0 | 1) => ({ x: acts[l]!, params: params[p], dy: grads[l + 1]! });
      if (o.fusedUpdate) {
        if (l > 0) {
          await this.addDense(tag, 'backward_fused', l, { maskRelu: true }, t, (p) => ({ ...common(p), dx: grads[l]!, ...update(p) }));
        } else {
          await this.addDense(tag, 'grad_weight_sgd', l, {}, t, (p) => ({ ...common(p), ...update(p) }));
        }
      } else {
        await this.addDense(tag, 'grad_weight', l, {}, t, () => ({ x: acts[l]!, dy: grads[l + 1]!, grads: model.grads }));
        if (l > 0) {
          await this.addDense(tag, 'grad_input', l, { maskRelu: true }, t, (p) => ({ ...common(p), dx: grads[l]! }));
        }
      }
    }
    if (!o.fusedUpdate) {
      const step = await gpu.pipelines.get(sgd, 'step', sgdOverrides(layout.totalFloats));
      this.add(step, sgdGrid(layout.totalFloats), `${tag}.sgd`, (p) => ({
        params: params[p],
        grads: model.grads,
        velocity: model.velocity,
        hyper: model.hyper,
      }));
    }
  }

  /** Encodes one optimizer step; with the fused update the new weights land in the other buffer, which becomes current. */
  override encode(pass: GPUComputePassEncoder, slot: number): void {
    super.encode(pass, slot);
    if (this.fusedUpdate) this.model.current = this.model.current === 0 ? 1 : 0;
  }
}

export interface EvalProgramOptions {
  readonly rows: number;
  readonly dataset: GpuDataset;
  readonly steps: StepTable;
  readonly stats: GPUBuffer;
  readonly predicted: GPUBuffer;
  readonly tuning: Tuning;
  readonly normalization?: Normalization;
}

/** Forward pass over `rows` consecutive samples of a data set, then loss, correct count and argmax per sample. */
export class EvalProgram extends Program {
  protected readonly activations: Activations;

  private constructor(
    gpu: Gpu,
    model: GpuParameters,
    private readonly o: EvalProgramOptions,
  ) {
    super(gpu, model, o.rows);
    this.activations = new Activations(gpu, `eval${o.rows}`, model.layout, o.rows, false);
  }

  static create(gpu: Gpu, model: GpuParameters, o: EvalProgramOptions): Promise<EvalProgram> {
    return Program.finish(new EvalProgram(gpu, model, o), (p) => p.build());
  }

  private async build(): Promise<void> {
    const { gpu, model, o } = this;
    const { acts, labels } = this.activations;
    const layout = model.layout;
    const L = layout.dense.length;
    const features = layout.layers[0]!;
    const tag = `eval${o.rows}`;
    const gather = await gpu.pipelines.get(
      data,
      'gather',
      gatherOverrides(o.rows, features, false, o.normalization ?? MNIST_NORMALIZATION),
    );
    this.add(
      gather,
      gatherGrid(o.rows, features),
      `${tag}.gather`,
      // `order` is unused when not shuffled, but the explicit layout still wants a buffer there.
      () => ({
        images: o.dataset.images,
        labels: o.dataset.labels,
        order: o.dataset.labels,
        x: acts[0],
        y: labels,
        step: o.steps.binding(),
      }),
      o.steps,
    );
    await this.addForward(tag, o.tuning.matmul, acts);
    const wg = reductionWorkgroup(o.rows, Math.max(o.tuning.reductionWorkgroup, 256));
    const ce = await gpu.pipelines.get(softmaxCe, 'evaluate', softmaxCeOverrides(o.rows, layout.layers[L]!, wg));
    this.add(
      ce,
      reductionGrid,
      `${tag}.evaluate`,
      () => ({ logits: acts[L], labels, stats: o.stats, step: o.steps.binding(), predicted: o.predicted }),
      o.steps,
    );
  }
}

/** Forward pass on caller-supplied (already normalized) inputs, then softmax: the demo's live digit. */
export class InferProgram extends Program {
  protected readonly activations: Activations;
  readonly probs: GPUBuffer;

  private constructor(gpu: Gpu, model: GpuParameters, rows: number) {
    super(gpu, model, rows);
    this.activations = new Activations(gpu, `infer${rows}`, model.layout, rows, false);
    this.probs = gpu.buffers.create(`infer${rows}.probs`, rows * model.layout.layers.at(-1)! * 4, STORAGE());
  }

  static create(gpu: Gpu, model: GpuParameters, rows: number, tuning: Tuning): Promise<InferProgram> {
    return Program.finish(new InferProgram(gpu, model, rows), async (p) => {
      const { acts } = p.activations;
      const layers = model.layout.layers;
      await p.addForward(`infer${rows}`, tuning.matmul, acts);
      const wg = Math.min(64, reductionWorkgroup(rows, 64));
      const kernel = await gpu.pipelines.get(softmaxCe, 'softmax', softmaxCeOverrides(rows, layers.at(-1)!, wg));
      p.add(kernel, softmaxGrid(rows, wg), `infer${rows}.softmax`, () => ({ logits: acts.at(-1), probs: p.probs }));
    });
  }

  get input(): GPUBuffer {
    return this.activations.acts[0]!;
  }

  override destroy(): void {
    super.destroy();
    this.gpu.buffers.destroy(this.probs);
  }
}
