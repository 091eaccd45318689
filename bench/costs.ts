/**
 * What each kernel of a training step must do at least: floating-point operations and the bytes it
 * must move (every operand read once, every result written once; f32 = 4 bytes). Achieved GFLOP/s
 * and GB/s in the benchmarks are these figures over measured time, so they are lower bounds of
 * what the hardware did (a kernel that re-reads its operands from cache moves more).
 *
 * `stepKernels` lists a training step's dispatches in the order network.ts's TrainProgram encodes
 * them; bench-node / the page check its length against `trainer.dispatchesPerStep()`.
 */
import { paramLayout } from '../src/model/layout.ts';
import { fusesHead } from '../src/model/network.ts';

const F32 = 4;

export interface KernelCost {
  /** `matmul.forward`, `data.gather`, … (family.entry) */
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

/** SGD with momentum over `count` values: read w, g, v; write w, v (about 4 operations each). */
export function sgdCost(count: number): { flops: number; bytes: number } {
  return { flops: 4 * count, bytes: F32 * 5 * count };
}

/** grad_weight with the SGD update fused: the gradient never leaves registers (read w, v; write w', v). */
export function gradWeightSgdCost(M: number, N: number, K: number): { flops: number; bytes: number } {
  const params = N * K + N;
  return { flops: 2 * M * N * K + M * N + 4 * params, bytes: F32 * (M * N + M * K + 4 * params) };
}

/** backward_fused: grad_weight + SGD and the masked grad_input of one hidden layer in one dispatch. */
export function backwardFusedCost(M: number, N: number, K: number): { flops: number; bytes: number } {
  const params = N * K + N;
  return { flops: 4 * M * N * K + M * N + 4 * params, bytes: F32 * (2 * M * K + M * N + 4 * params) };
}

/** Softmax + cross-entropy of (rows, classes) logits: read logits and labels, write dlogits, row losses, one stat. */
export function softmaxCeCost(rows: number, classes: number): { flops: number; bytes: number } {
  return { flops: 6 * rows * classes, bytes: F32 * (2 * rows * classes + 2 * rows) + 8 };
}

/**
 * train_head: the output layer's forward, softmax-CE, its masked dX and the SGD update of W and b,
 * in one dispatch whose logits and their gradient never leave workgroup memory.
 */
export function headCost(M: number, N: number, K: number): { flops: number; bytes: number } {
  const params = N * K + N;
  return {
    flops: forwardCost(M, N, K).flops + softmaxCeCost(M, N).flops + 4 * M * N * K + M * N + 4 * params,
    bytes: F32 * (2 * M * K + M * K + M + 4 * params) + 8,
  };
}

/** Gather + normalize a batch: read `rows` bytes of pixels each (u8) and the order, write f32 rows and u32 labels. */
export function gatherCost(rows: number, features: number): { flops: number; bytes: number } {
  return { flops: 2 * rows * features, bytes: rows * features + 4 * rows + rows + F32 * (rows * features + rows) };
}

/** The dispatches of one optimizer step on a full batch, in encoding order (network.ts TrainProgram). */
export function stepKernels(layers: readonly number[], batchSize: number, fusedUpdate: boolean): KernelCost[] {
  const layout = paramLayout(layers);
  const L = layout.dense.length;
  const head = fusesHead(layers, batchSize, fusedUpdate);
  const M = batchSize;
  const shape = (l: number) => {
    const d = layout.dense[l]!;
    return { N: d.outFeatures, K: d.inFeatures, layer: l + 1, tag: `l${l + 1} (${M}×${d.inFeatures})→${d.outFeatures}` };
  };
  const out: KernelCost[] = [{ kernel: 'data.gather', what: `${M}×${layers[0]} bytes`, ...gatherCost(M, layers[0]!) }];
  for (let l = 0; l < (head ? L - 1 : L); l++) {
    const { N, K, layer, tag } = shape(l);
    out.push({ kernel: 'matmul.forward', what: tag, layer, ...forwardCost(M, N, K) });
  }
  if (head) {
    const { N, K, layer, tag } = shape(L - 1);
    out.push({ kernel: 'softmax_ce.train_head', what: `${tag} + softmax-CE + dX, dW, SGD`, layer, ...headCost(M, N, K) });
  } else {
    out.push({ kernel: 'softmax_ce.train', what: `${M}×${layers[L]}`, ...softmaxCeCost(M, layers[L]!) });
  }
  for (let l = head ? L - 2 : L - 1; l >= 0; l--) {
    const { N, K, layer, tag } = shape(l);
    if (fusedUpdate) {
      if (l > 0) out.push({ kernel: 'matmul.backward_fused', what: tag, layer, ...backwardFusedCost(M, N, K) });
      else out.push({ kernel: 'matmul.grad_weight_sgd', what: tag, layer, ...gradWeightSgdCost(M, N, K) });
    } else {
      out.push({ kernel: 'matmul.grad_weight', what: tag, layer, ...gradWeightCost(M, N, K) });
      if (l > 0) out.push({ kernel: 'matmul.grad_input', what: tag, layer, ...gradInputCost(M, N, K, true) });
    }
  }
  if (!fusedUpdate) out.push({ kernel: 'sgd.step', what: `${layout.totalFloats} floats`, ...sgdCost(layout.totalFloats) });
  return out;
}

export interface StepCost {
  readonly dispatches: number;
  readonly flops: number;
  readonly bytes: number;
  /** the share of the matmuls (forward and backward) in `flops` */
  readonly matmulFlops: number;
}

export function stepCost(layers: readonly number[], batchSize: number, fusedUpdate: boolean): StepCost {
  const kernels = stepKernels(layers, batchSize, fusedUpdate);
  return {
    dispatches: kernels.length,
    flops: kernels.reduce((a, k) => a + k.flops, 0),
    bytes: kernels.reduce((a, k) => a + k.bytes, 0),
    matmulFlops: kernels.filter((k) => k.kernel.startsWith('matmul.')).reduce((a, k) => a + k.flops, 0),
  };
}
