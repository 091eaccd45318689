/** Evaluation: forward over `rows` consecutive samples of a data set, then loss, correct count and argmax per sample. */
import { gather, gatherGrid, gatherOverrides } from '../../kernels/gather.ts';
import { EVAL_WORKGROUP, reductionGrid, reductionWorkgroup, softmaxCe, softmaxCeOverrides } from '../../kernels/softmax-ce.ts';
import { InputError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/device.ts';
import type { GpuDataset } from '../data/gpu-dataset.ts';
import type { GpuParameters, StepTable } from '../parameters.ts';
import { Activations, Program } from './program.ts';
import type { Tuning } from './tuning.ts';

export interface EvalProgramOptions {
  readonly rows: number;
  readonly dataset: GpuDataset;
  readonly steps: StepTable;
  readonly stats: GPUBuffer;
  readonly predicted: GPUBuffer;
  readonly tuning: Tuning;
}

export class EvalProgram extends Program {
  protected readonly activations: Activations;

  private constructor(
    gpu: Gpu,
    model: GpuParameters,
    private readonly o: EvalProgramOptions,
  ) {
    super(gpu, model, o.rows, `eval${o.rows}`);
    const layers = model.layout.layers;
    if (layers[0] !== o.dataset.featureCount || layers.at(-1) !== o.dataset.classes) {
      throw new InputError(
        `the model is ${layers[0]} inputs → ${layers.at(-1)} classes but the data set has ${o.dataset.featureCount} features and ${o.dataset.classes} classes`,
      );
    }
    this.activations = new Activations(gpu, this.tag, model.layout, o.rows, { withGrads: false });
  }

  static create(gpu: Gpu, model: GpuParameters, o: EvalProgramOptions): Promise<EvalProgram> {
    return Program.finish(new EvalProgram(gpu, model, o), (p) => p.build());
  }

  private async build(): Promise<void> {
    const { gpu, model, o } = this;
    const { acts, labels } = this.activations;
    const L = model.layout.dense.length;
    const features = model.layout.layers[0]!;
    const step = o.steps.binding();
    const gatherKernel = await gpu.pipelines.get(gather, 'gather', gatherOverrides(o.rows, o.dataset, false));
    this.add(
      { label: 'gather', family: 'gather', entry: 'gather', grid: gatherGrid(o.rows, features) },
      gatherKernel,
      // `order` is unused when not shuffled, but the explicit layout still wants a buffer there.
      () => ({ features: o.dataset.features, labels: o.dataset.labels, order: o.dataset.labels, x: acts[0]!, y: labels, step }),
      o.steps,
    );
    await this.addForward(o.tuning.matmul, acts);
    const wg = reductionWorkgroup(o.rows, EVAL_WORKGROUP);
    const ce = await gpu.pipelines.get(softmaxCe, 'evaluate', softmaxCeOverrides(o.rows, model.layout.layers[L]!, wg));
    this.add(
      { label: 'evaluate', family: 'softmax_ce', entry: 'evaluate', grid: reductionGrid },
      ce,
      () => ({ logits: acts[L]!, labels, stats: o.stats, step, predicted: o.predicted }),
      o.steps,
    );
  }
}
