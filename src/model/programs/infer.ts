/** Inference: forward on caller-supplied (already normalized) inputs, then softmax. */
import { reductionWorkgroup, softmaxCe, softmaxCeOverrides, softmaxGrid } from '../../kernels/softmax-ce.ts';
import type { Gpu } from '../../runtime/device.ts';
import { STORAGE, type GpuParameters } from '../parameters.ts';
import { Activations, Program } from './program.ts';
import type { Tuning } from './tuning.ts';

/** Rows of probabilities come out of one workgroup of up to this many rows each. */
const SOFTMAX_WORKGROUP = 64;

export class InferProgram extends Program {
  protected readonly activations: Activations;
  readonly probs: GPUBuffer;

  private constructor(gpu: Gpu, model: GpuParameters, rows: number) {
    super(gpu, model, rows, `infer${rows}`);
    this.activations = new Activations(gpu, this.tag, model.layout, rows, { withGrads: false });
    this.probs = gpu.buffers.create(`${this.tag}.probs`, rows * model.layout.layers.at(-1)! * 4, STORAGE());
  }

  static create(gpu: Gpu, model: GpuParameters, rows: number, tuning: Tuning): Promise<InferProgram> {
    return Program.finish(new InferProgram(gpu, model, rows), async (p) => {
      const { acts } = p.activations;
      const classes = model.layout.layers.at(-1)!;
      await p.addForward(tuning.matmul, acts);
      const wg = reductionWorkgroup(rows, SOFTMAX_WORKGROUP);
      const kernel = await gpu.pipelines.get(softmaxCe, 'softmax', softmaxCeOverrides(rows, classes, wg));
      p.add({ label: 'softmax', family: 'softmax_ce', entry: 'softmax', grid: softmaxGrid(rows, wg) }, kernel, () => ({
        logits: acts.at(-1)!,
        probs: p.probs,
      }));
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
