/**
 * Evaluation of a data set on the GPU (loss, accuracy and every sample's predicted class, only
 * per-chunk sums coming back) and prediction of class probabilities for caller-given rows.
 */
import { InputError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/device.ts';
import { featureScale, type Dataset, type Normalization } from '../data/dataset.ts';
import { destroyDataset, uploadDataset, type GpuDataset } from '../data/gpu-dataset.ts';
import { StepStat } from '../../kernels/records.ts';
import { StepTable, type GpuParameters } from '../parameters.ts';
import { EvalProgram } from '../programs/eval.ts';
import { InferProgram } from '../programs/infer.ts';
import type { Tuning } from '../programs/tuning.ts';

export interface EvalResult {
  readonly loss: number;
  readonly accuracy: number;
  readonly correct: number;
  readonly count: number;
  readonly seconds: number;
}

/** One data set on the GPU with its evaluation programs (one per chunk size). */
export class Evaluator {
  readonly data: GpuDataset;
  private readonly table: StepTable;
  private readonly stats: GPUBuffer;
  readonly predicted: GPUBuffer;
  private readonly programs = new Map<number, Promise<EvalProgram>>();

  constructor(
    private readonly gpu: Gpu,
    private readonly model: GpuParameters,
    readonly dataset: Dataset,
    private readonly chunk: number,
    private readonly tuning: Tuning,
    label: string,
  ) {
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.data = uploadDataset(gpu, dataset, label);
    const chunks = Math.ceil(dataset.count / chunk);
    this.table = new StepTable(gpu, `${label}.eval.steps`, chunks, chunk);
    this.stats = gpu.buffers.create(`${label}.eval.stats`, chunks * StepStat.size, storage);
    this.predicted = gpu.buffers.create(`${label}.eval.predicted`, dataset.count * 4, storage);
  }

  private rowsOf(c: number): number {
    return Math.min(this.chunk, this.dataset.count - c * this.chunk);
  }

  private program(rows: number): Promise<EvalProgram> {
    let p = this.programs.get(rows);
    if (!p) {
      p = EvalProgram.create(this.gpu, this.model, {
        rows,
        dataset: this.data,
        steps: this.table,
        stats: this.stats,
        predicted: this.predicted,
        tuning: this.tuning,
      });
      this.programs.set(rows, p);
    }
    return p;
  }

  /** Compiles the programs evaluation will use, so the first evaluate() does not pay for it. */
  async prepare(): Promise<void> {
    const chunks = Math.ceil(this.dataset.count / this.chunk);
    await Promise.all([...new Set([this.rowsOf(0), this.rowsOf(chunks - 1)])].map((rows) => this.program(rows)));
  }

  async evaluate(): Promise<EvalResult> {
    const start = performance.now();
    const chunks = Math.ceil(this.dataset.count / this.chunk);
    const encoder = this.gpu.device.createCommandEncoder({ label: 'evaluate' });
    const pass = encoder.beginComputePass({ label: 'evaluate' });
    for (let c = 0; c < chunks; c++) (await this.program(this.rowsOf(c))).encode(pass, c);
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    const view = new DataView(await this.gpu.read(this.stats, 0, chunks * StepStat.size));
    let loss = 0;
    let correct = 0;
    for (let c = 0; c < chunks; c++) {
      const stat = StepStat.read(view, c);
      loss += stat.loss * this.rowsOf(c);
      correct += stat.correct;
    }
    const count = this.dataset.count;
    return { loss: loss / count, accuracy: correct / count, correct, count, seconds: (performance.now() - start) / 1000 };
  }

  /** Every sample's predicted class from the last evaluate(). */
  async predictions(): Promise<Uint32Array> {
    return new Uint32Array(await this.gpu.read(this.predicted));
  }

  destroy(): void {
    for (const p of this.programs.values())
      p.then(
        (program) => program.destroy(),
        () => {},
      );
    destroyDataset(this.gpu, this.data);
    for (const b of [this.table.buffer, this.stats, this.predicted]) this.gpu.buffers.destroy(b);
  }
}

/** Rows per inference dispatch: larger inputs go in chunks of this many. */
const PREDICT_CHUNK = 1024;

/** Class probabilities for any number of rows, in power-of-two program sizes so few programs are ever built. */
export class Predictor {
  private readonly programs = new Map<number, Promise<InferProgram>>();

  constructor(
    private readonly gpu: Gpu,
    private readonly model: GpuParameters,
    private readonly tuning: Tuning,
    private readonly normalization: Normalization,
  ) {}

  private program(capacity: number): Promise<InferProgram> {
    let p = this.programs.get(capacity);
    if (!p) {
      p = InferProgram.create(this.gpu, this.model, capacity, this.tuning);
      this.programs.set(capacity, p);
    }
    return p;
  }

  async predict(rows: Uint8Array | Float32Array): Promise<Float32Array> {
    const layers = this.model.layout.layers;
    const features = layers[0]!;
    const classes = layers.at(-1)!;
    if (!(rows instanceof Uint8Array) && !(rows instanceof Float32Array))
      throw new InputError('predict takes a Uint8Array or a Float32Array');
    if (rows.length === 0 || rows.length % features !== 0) {
      throw new InputError(`predict takes whole rows of ${features} features, got ${rows.length} values`);
    }
    const count = rows.length / features;
    const scale = featureScale(rows instanceof Uint8Array ? 'u8' : 'f32');
    const { mean, std } = this.normalization;
    const out = new Float32Array(count * classes);
    for (let first = 0; first < count; first += PREDICT_CHUNK) {
      const n = Math.min(PREDICT_CHUNK, count - first);
      let capacity = 1;
      while (capacity < n) capacity *= 2;
      const program = await this.program(capacity);
      const x = new Float32Array(capacity * features);
      for (let i = 0; i < n * features; i++) {
        const v = rows[first * features + i]!;
        if (!Number.isFinite(v))
          throw new InputError(`predict: feature ${i % features} of row ${first + Math.floor(i / features)} is ${v}`);
        x[i] = (v * scale - mean) / std;
      }
      this.gpu.write(program.input, x);
      const encoder = this.gpu.device.createCommandEncoder({ label: 'predict' });
      const pass = encoder.beginComputePass({ label: 'predict' });
      program.encode(pass, 0);
      pass.end();
      this.gpu.device.queue.submit([encoder.finish()]);
      out.set(new Float32Array(await this.gpu.read(program.probs, 0, n * classes * 4)), first * classes);
    }
    return out;
  }

  destroy(): void {
    for (const p of this.programs.values())
      p.then(
        (program) => program.destroy(),
        () => {},
      );
    this.programs.clear();
  }
}
