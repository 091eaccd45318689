import { DEFAULT_TUNING, type ParamLayout, type StepDispatch, StepStat, paramLayout, planTrainStep } from './engine.ts';
/**
 * What each kernel of a training step must do at least: floating-point operations and the bytes it
 * must move (every operand read once, every result written once; f32 = 4 bytes). Achieved GFLOP/s
 * and GB/s in the benchmarks are these figures over measured time, so they are lower bounds of
 * what the hardware did (a kernel that re-reads its operands from cache moves more).
 *
 * `stepKernels` costs a training step's dispatches as src/model/programs/train.ts plans them (the
 * list the train program binds and encodes); bench-node / the page check its length against
 * `trainer.dispatchesPerStep()`.
 */

const F32 = 4;

export interface KernelCost {
  /** `dense.forward`, `gather.gather`, … (family.entry, the family by role as StepDispatch has it) */
  readonly kernel: string;
  /** what it works on, for people: `l1 (64×784)·(512×784)ᵀ` */
  readonly what: string;
  /** the dense layer it works on, 1-based (l1 = 784→512), where it works on one */
  readonly layer?: number;
  readonly flops: number;
  readonly bytes: number;
}

/** Y (M, N) = X (M, K) · W (N, K)ᵀ + b (N), ReLU optional. */
export function forwardCost(M: number, N: number, K: number): { flops: number; bytes: number } {
  return { flops: 2 * M * N * K + M * N, bytes: F32 * (M * K + N * K + N + M * N) };
}

/** dX (M, K) = dY (M, N) · W (N, K), masked by X > 0 when `mask` (X read once more). */
export function gradInputCost(M: number, N: number, K: number, mask: boolean): { flops: number; bytes: number } {
  return { flops: 2 * M * N * K, bytes: F32 * (M * N + N * K + M * K + (mask ? M * K : 0)) };
}

/** dW (N, K) = dY (M, N)ᵀ · X (M, K) and db (N) = Σ_m dY. */
export function gradWeightCost(M: number, N: number, K: number): { flops: number; bytes: number } {
  return { flops: 2 * M * N * K + M * N, bytes: F32 * (M * N + M * K + N * K + N) };
}

/** The optimizer pass (SGD with momentum) over `count` values: read w, g, v; write w, v (about 4 operations each). */
export function optimizerCost(count: number): { flops: number; bytes: number } {
  return { flops: 4 * count, bytes: F32 * 5 * count };
}

/** grad_weight with the optimizer update fused: the gradient never leaves registers (read w, v; write w', v). */
export function gradWeightUpdateCost(M: number, N: number, K: number): { flops: number; bytes: number } {
  const params = N * K + N;
  return { flops: 2 * M * N * K + M * N + 4 * params, bytes: F32 * (M * N + M * K + 4 * params) };
}

/** backward_fused: grad_weight + update and the masked grad_input of one hidden layer in one dispatch. */
export function backwardFusedCost(M: number, N: number, K: number): { flops: number; bytes: number } {
  const params = N * K + N;
  return { flops: 4 * M * N * K + M * N + 4 * params, bytes: F32 * (2 * M * K + M * N + 4 * params) };
}

/** Softmax + cross-entropy of (rows, classes) logits: read logits and labels, write dlogits and one stat. */
export function softmaxCeCost(rows: number, classes: number): { flops: number; bytes: number } {
  return { flops: 6 * rows * classes, bytes: F32 * (2 * rows * classes + rows) + StepStat.size };
}

/**
 * train_head: the output layer's forward, softmax-CE, its masked dX and the optimizer update of W and b,
 * in one dispatch whose logits and their gradient never leave workgroup memory.
 */
export function headCost(M: number, N: number, K: number): { flops: number; bytes: number } {
  const params = N * K + N;
  return {
    flops: forwardCost(M, N, K).flops + softmaxCeCost(M, N).flops + 4 * M * N * K + M * N + 4 * params,
    bytes: F32 * (2 * M * K + M * K + M + 4 * params) + StepStat.size,
  };
}

/** Gather + normalize a batch: read `rows` samples of u8 features, their order and u32 labels, write f32 rows and u32 labels. */
export function gatherCost(rows: number, features: number): { flops: number; bytes: number } {
  return { flops: 2 * rows * features, bytes: rows * features + 4 * rows + 4 * rows + F32 * (rows * features + rows) };
}

/** What one dispatch of a program (src/model/programs: its `dispatches`, or planTrainStep's) must do at least. */
export function dispatchCost(d: StepDispatch, layout: ParamLayout, rows: number): KernelCost {
  const kernel = `${d.family}.${d.entry}`;
  const s = d.shape;
  if (!s || d.layer === undefined) {
    switch (kernel) {
      case 'gather.gather':
        return { kernel, what: `${rows}×${layout.layers[0]} bytes`, ...gatherCost(rows, layout.layers[0]!) };
      case 'softmax_ce.train':
        return { kernel, what: `${rows}×${layout.layers.at(-1)}`, ...softmaxCeCost(rows, layout.layers.at(-1)!) };
      case 'optimizer.update_all':
        return { kernel, what: `${layout.totalFloats} floats`, ...optimizerCost(layout.totalFloats) };
      default:
        throw new Error(`no cost model for ${kernel}`);
    }
  }
  const [M, N, K, layer] = [s.rows, s.outFeatures, s.inFeatures, d.layer + 1];
  const tag = `l${layer} (${M}×${K})→${N}`;
  const dense = (cost: { flops: number; bytes: number }, what = tag): KernelCost => ({ kernel, what, layer, ...cost });
  switch (kernel) {
    case 'dense.forward':
      return dense(forwardCost(M, N, K));
    case 'dense.grad_input':
      return dense(gradInputCost(M, N, K, true));
    case 'dense.grad_weight':
      return dense(gradWeightCost(M, N, K));
    case 'dense.grad_weight_update':
      return dense(gradWeightUpdateCost(M, N, K));
    case 'dense.backward_fused':
      return dense(backwardFusedCost(M, N, K));
    case 'softmax_ce.train_head':
      return dense(headCost(M, N, K), `${tag} + softmax-CE + dX, dW, update`);
    default:
      throw new Error(`no cost model for ${kernel}`);
  }
}

/** The dispatches of one optimizer step on a full batch, in encoding order: planTrainStep's list, the one the train program binds. */
export function stepKernels(layers: readonly number[], batchSize: number, fusedUpdate: boolean): KernelCost[] {
  const layout = paramLayout(layers);
  return planTrainStep(layout, batchSize, { tuning: DEFAULT_TUNING, fusedUpdate }).map((d) => dispatchCost(d, layout, batchSize));
}

export interface StepCost {
  readonly dispatches: number;
  readonly flops: number;
  readonly bytes: number;
  /** the share of the matmuls (forward and backward) in `flops` */
  readonly matmulFlops: number;
}

export function stepCost(layers: readonly number[], batchSize: number, fusedUpdate: boolean): StepCost {
  return totalCost(stepKernels(layers, batchSize, fusedUpdate));
}

export function totalCost(kernels: readonly KernelCost[]): StepCost {
  return {
    dispatches: kernels.length,
    flops: kernels.reduce((a, k) => a + k.flops, 0),
    bytes: kernels.reduce((a, k) => a + k.bytes, 0),
    matmulFlops: kernels.filter((k) => k.kernel.startsWith('dense.')).reduce((a, k) => a + k.flops, 0),
  };
}
