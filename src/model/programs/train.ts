/**
 * The training step: its list of dispatches (planTrainStep, the one place that says what a step
 * runs and in which order; the bench's cost model and replay read it), and the program that binds
 * and encodes that list.
 */
import type { DenseTuning } from '../../kernels/dense.ts';
import { gather, gatherGrid, gatherOverrides } from '../../kernels/gather.ts';
import { optimizer, optimizerGrid, optimizerOverrides } from '../../kernels/optimizer.ts';
import {
  headOverrides,
  headWorkgroupBytes,
  reductionGrid,
  reductionWorkgroup,
  softmaxCe,
  softmaxCeOverrides,
  TRAIN_WORKGROUP,
} from '../../kernels/softmax-ce.ts';
import { InputError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/device.ts';
import type { GpuDataset } from '../data/gpu-dataset.ts';
import type { ParamLayout } from '../layout.ts';
import type { GpuParameters, StepTable } from '../parameters.ts';
import { Activations, denseDispatch, planForward, Program, type StepDispatch } from './program.ts';
import type { Tuning } from './tuning.ts';

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

export interface StepPlanOptions {
  readonly tuning: Tuning;
  /** the optimizer update fused into the weight-gradient kernels (ping-pong parameters) rather than one pass at the end */
  readonly fusedUpdate: boolean;
  /** the device's maxComputeWorkgroupStorageSize (train_head needs room for the batch's logits) */
  readonly workgroupStorage?: number;
}

/**
 * One optimizer step's dispatches, in order: gather the batch, forward through every layer (ReLU
 * fused), softmax-cross-entropy (loss and accuracy into the stats), then each layer's backward
 * pass. With the fused update a hidden layer's backward pass is one dispatch computing dX and
 * updating W and b, and the output layer's forward, the loss and that layer's backward are one
 * train_head dispatch: 2L dispatches a step (10 for the seed's MLP), against 1 + L + 1 + 2L without.
 */
export function planTrainStep(layout: ParamLayout, rows: number, o: StepPlanOptions): StepDispatch[] {
  const L = layout.dense.length;
  const t: DenseTuning = o.tuning.matmul;
  const head = fusesHead(layout.layers, rows, o.fusedUpdate, o.workgroupStorage);
  const plan: StepDispatch[] = [{ label: 'gather', family: 'gather', entry: 'gather', grid: gatherGrid(rows, layout.layers[0]!) }];
  plan.push(...planForward(layout, rows, t, head ? L - 1 : L));
  if (head)
    plan.push({
      ...denseDispatch(layout, L - 1, rows, 'forward', t),
      label: `l${L}.train_head`,
      family: 'softmax_ce',
      entry: 'train_head',
      grid: reductionGrid,
    });
  else plan.push({ label: 'softmax_ce', family: 'softmax_ce', entry: 'train', grid: reductionGrid });
  for (let l = head ? L - 2 : L - 1; l >= 0; l--) {
    if (o.fusedUpdate) plan.push(denseDispatch(layout, l, rows, l > 0 ? 'backward_fused' : 'grad_weight_update', t));
    else {
      plan.push(denseDispatch(layout, l, rows, 'grad_weight', t));
      if (l > 0) plan.push(denseDispatch(layout, l, rows, 'grad_input', t));
    }
  }
  if (!o.fusedUpdate) plan.push({ label: 'optimizer', family: 'optimizer', entry: 'update_all', grid: optimizerGrid(layout.totalFloats) });
  return plan;
}

export interface TrainProgramOptions extends StepPlanOptions {
  readonly rows: number;
  readonly dataset: GpuDataset;
  readonly order: GPUBuffer;
  readonly steps: StepTable;
  readonly stats: GPUBuffer;
}

/** planTrainStep's dispatches, bound to the model's buffers and the training set. */
export class TrainProgram extends Program {
  protected readonly activations: Activations;
  readonly fusedUpdate: boolean;
  private readonly plan: readonly StepDispatch[];

  private constructor(
    gpu: Gpu,
    model: GpuParameters,
    private readonly o: TrainProgramOptions,
  ) {
    super(gpu, model, o.rows, `train${o.rows}`);
    const layout = model.layout;
    if (layout.layers[0] !== o.dataset.featureCount) {
      throw new InputError(`the model takes ${layout.layers[0]} inputs but the data set has ${o.dataset.featureCount} features per sample`);
    }
    if (layout.layers.at(-1) !== o.dataset.classes) {
      throw new InputError(`the model has ${layout.layers.at(-1)} outputs but the data set has ${o.dataset.classes} classes`);
    }
    this.plan = planTrainStep(layout, o.rows, { ...o, workgroupStorage: gpu.device.limits.maxComputeWorkgroupStorageSize });
    // With train_head the logits and their gradient live in its workgroup memory: no buffers for them.
    const head = this.plan.some((d) => d.entry === 'train_head');
    const layers = head ? layout.layers.length - 1 : layout.layers.length;
    this.activations = new Activations(gpu, this.tag, layout, o.rows, { withGrads: true, layers });
    this.fusedUpdate = o.fusedUpdate;
  }

  static create(gpu: Gpu, model: GpuParameters, o: TrainProgramOptions): Promise<TrainProgram> {
    return Program.finish(new TrainProgram(gpu, model, o), (p) => p.build());
  }

  private async build(): Promise<void> {
    for (const d of this.plan) await this.bind(d);
  }

  private async bind(d: StepDispatch): Promise<void> {
    const { gpu, model, o } = this;
    const { acts, grads, labels } = this.activations;
    const layout = model.layout;
    const L = layout.dense.length;
    const params = model.params;
    const step = o.steps.binding();
    // The optimizer's bindings, in every kernel that updates: its state, its hyper-parameters, the
    // step's record (lr, bias corrections) and the stats, whose `nonfinite` flag the update raises.
    const optimizerBindings = { opt_state: model.optState, hyper: model.hyper, step, step_flags: o.stats };
    const update = (p: 0 | 1) => ({ params_out: params[1 - p]!, ...optimizerBindings });
    const t = o.tuning.matmul;
    const l = d.layer ?? -1;
    switch (`${d.family}.${d.entry}`) {
      case 'gather.gather': {
        const kernel = await gpu.pipelines.get(gather, 'gather', gatherOverrides(o.rows, o.dataset, true));
        const { features, labels: datasetLabels } = o.dataset;
        return this.add(d, kernel, () => ({ features, labels: datasetLabels, order: o.order, x: acts[0]!, y: labels, step }), o.steps);
      }
      case 'dense.forward':
        return this.add(d, await this.denseKernel(d, t), (p) => ({ x: acts[l]!, params: params[p], y: acts[l + 1]! }));
      case 'softmax_ce.train_head': {
        const s = d.shape!;
        const kernel = await gpu.pipelines.get(
          softmaxCe,
          'train_head',
          headOverrides(
            {
              rows: o.rows,
              hidden: s.inFeatures,
              classes: s.outFeatures,
              weightOffset: s.weightOffset,
              biasOffset: s.biasOffset,
            },
            model.rule,
          ),
        );
        const resources = (p: 0 | 1) => ({
          labels,
          stats: o.stats,
          step,
          hidden: acts[L - 1]!,
          params: params[p],
          dhidden: grads[L - 1]!,
          params_out: params[1 - p]!,
          opt_state: model.optState,
          hyper: model.hyper,
        });
        return this.add(d, kernel, resources, o.steps);
      }
      case 'softmax_ce.train': {
        const wg = reductionWorkgroup(o.rows, TRAIN_WORKGROUP);
        const kernel = await gpu.pipelines.get(softmaxCe, 'train', softmaxCeOverrides(o.rows, layout.layers[L]!, wg));
        return this.add(d, kernel, () => ({ logits: acts[L]!, labels, dlogits: grads[L]!, stats: o.stats, step }), o.steps);
      }
      case 'dense.backward_fused':
        return this.add(
          d,
          await this.denseKernel(d, t),
          (p) => ({
            x: acts[l]!,
            params: params[p],
            dy: grads[l + 1]!,
            dx: grads[l]!,
            ...update(p),
          }),
          o.steps,
        );
      case 'dense.grad_weight_update':
        return this.add(
          d,
          await this.denseKernel(d, t),
          (p) => ({ x: acts[l]!, params: params[p], dy: grads[l + 1]!, ...update(p) }),
          o.steps,
        );
      case 'dense.grad_weight':
        return this.add(d, await this.denseKernel(d, t), () => ({ x: acts[l]!, dy: grads[l + 1]!, grads: model.grads }));
      case 'dense.grad_input':
        return this.add(d, await this.denseKernel(d, t), (p) => ({ x: acts[l]!, params: params[p], dy: grads[l + 1]!, dx: grads[l]! }));
      case 'optimizer.update_all': {
        const kernel = await gpu.pipelines.get(optimizer, 'update_all', optimizerOverrides(layout.totalFloats, model.rule));
        return this.add(d, kernel, (p) => ({ params: params[p], grads: model.grads, ...optimizerBindings }), o.steps);
      }
      default:
        throw new Error(`the train program cannot bind ${d.family}.${d.entry}`);
    }
  }

  /** Encodes one optimizer step; with the fused update the new weights land in the other buffer, which becomes current. */
  override encode(pass: GPUComputePassEncoder, slot: number): void {
    super.encode(pass, slot);
    if (this.fusedUpdate) this.model.current = this.model.current === 0 ? 1 : 0;
  }
}
