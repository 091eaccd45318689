/**
 * CPU references for the kernel benchmark's check-then-bench (llm.c style): plain loops that
 * accumulate in float64. Layouts as in shaders/*.wgsl: X (M, K), W (N, K) at params[wOff],
 * b (N) at params[bOff], dY (M, N), all row-major.
 *
 * The matmul references also return Σ|a·b| per output, for an error bound that scales with the
 * dot product's length and magnitude (float32 accumulation over K terms is not exact).
 */

export interface Reference {
  readonly value: Float64Array;
  /** Σ |term| of each output's sum (same length as value); absent where the output is not a long sum */
  readonly absSum?: Float64Array;
}

export interface DenseRef {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly wOff: number;
  readonly bOff: number;
}

/** Y = X·Wᵀ + b, ReLU optional; `only` limits it to those flat output indices (big shapes are checked by sampling). */
export function forwardRef(x: Float32Array, params: Float32Array, s: DenseRef, relu: boolean, only?: readonly number[]): Reference {
  const { M, N, K, wOff, bOff } = s;
  const value = new Float64Array(M * N).fill(Number.NaN);
  const absSum = new Float64Array(M * N);
  const indices = only ?? Array.from({ length: M * N }, (_, i) => i);
  for (const i of indices) {
    const m = Math.floor(i / N);
    const n = i - m * N;
    let sum = params[bOff + n]!;
    let abs = Math.abs(sum);
    for (let k = 0; k < K; k++) {
      const t = x[m * K + k]! * params[wOff + n * K + k]!;
      sum += t;
      abs += Math.abs(t);
    }
    value[i] = relu ? Math.max(sum, 0) : sum;
    absSum[i] = abs;
  }
  return { value, absSum };
}

/** dX = dY·W, zero where X ≤ 0 when `mask`. */
export function gradInputRef(dy: Float32Array, params: Float32Array, x: Float32Array, s: DenseRef, mask: boolean): Reference {
  const { M, N, K, wOff } = s;
  const value = new Float64Array(M * K);
  const absSum = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      let abs = 0;
      for (let n = 0; n < N; n++) {
        const t = dy[m * N + n]! * params[wOff + n * K + k]!;
        sum += t;
        abs += Math.abs(t);
      }
      value[m * K + k] = mask && x[m * K + k]! <= 0 ? 0 : sum;
      absSum[m * K + k] = abs;
    }
  }
  return { value, absSum };
}

/** dW = dYᵀ·X (N, K) and db = Σ_m dY (N), as one array: dW then db. */
export function gradWeightRef(dy: Float32Array, x: Float32Array, s: DenseRef): Reference {
  const { M, N, K } = s;
  const value = new Float64Array(N * K + N);
  const absSum = new Float64Array(N * K + N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      let abs = 0;
      for (let m = 0; m < M; m++) {
        const t = dy[m * N + n]! * x[m * K + k]!;
        sum += t;
        abs += Math.abs(t);
      }
      value[n * K + k] = sum;
      absSum[n * K + k] = abs;
    }
    let db = 0;
    let abs = 0;
    for (let m = 0; m < M; m++) {
      db += dy[m * N + n]!;
      abs += Math.abs(dy[m * N + n]!);
    }
    value[N * K + n] = db;
    absSum[N * K + n] = abs;
  }
  return { value, absSum };
}

export interface Hyper {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
}

/** torch.optim.SGD (dampening 0, no Nesterov): g += wd·w; v = μ·v + g; w' = w − lr·v. Returns [w', v']. */
export function sgdRef(w: number, v: number, g: number, h: Hyper): [number, number] {
  const gg = g + h.weightDecay * w;
  const vv = h.momentum * v + gg;
  return [w - h.lr * vv, vv];
}

export interface SoftmaxCeRef {
  readonly dlogits: Float64Array;
  readonly rowLoss: Float64Array;
  readonly meanLoss: number;
  readonly correct: number;
}

/** Mean cross-entropy of softmax(logits) against labels, its gradient (softmax − onehot)/rows, and the argmax hits. */
export function softmaxCeRef(logits: Float32Array, labels: Uint32Array, rows: number, classes: number): SoftmaxCeRef {
  const dlogits = new Float64Array(rows * classes);
  const rowLoss = new Float64Array(rows);
  let total = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    let argmax = 0;
    for (let c = 0; c < classes; c++) {
      const z = logits[r * classes + c]!;
      if (z > max) {
        max = z;
        argmax = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[r * classes + c]! - max);
    const label = labels[r]!;
    const loss = Math.log(sum) - (logits[r * classes + label]! - max);
    rowLoss[r] = loss;
    total += loss;
    if (argmax === label) correct++;
    for (let c = 0; c < classes; c++) {
      const p = Math.exp(logits[r * classes + c]! - max) / sum;
      dlogits[r * classes + c] = (p - (c === label ? 1 : 0)) / rows;
    }
  }
  return { dlogits, rowLoss, meanLoss: total / rows, correct };
}

/** The batch the gather kernel assembles: x = (pixel/255 − mean)/std of samples order[start + r], and their labels. */
export function gatherRef(
  images: Uint8Array,
  labels: Uint32Array,
  order: Uint32Array,
  start: number,
  rows: number,
  features: number,
  norm: { mean: number; std: number },
): { x: Float64Array; y: Uint32Array } {
  const x = new Float64Array(rows * features);
  const y = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    const sample = order[start + r]!;
    for (let f = 0; f < features; f++) x[r * features + f] = (images[sample * features + f]! / 255 - norm.mean) / norm.std;
    y[r] = labels[sample]!;
  }
  return { x, y };
}

export interface Mismatch {
  readonly ok: boolean;
  /** elements compared */
  readonly checked: number;
  readonly maxAbsError: number;
  /** the element furthest outside its tolerance, when any is */
  readonly worst?: { readonly what: string; readonly index: number; readonly got: number; readonly want: number };
}

/**
 * |got − want| ≤ atol + rtol·|want| + √terms·2⁻²³·Σ|terms| for every element compared (NaN in
 * `want` means "not compared"; NaN in `got` always fails: outputs are poisoned before the run).
 */
export function compare(
  what: string,
  got: ArrayLike<number>,
  want: Reference | Float64Array | Uint32Array,
  { atol = 1e-5, rtol = 1e-4, terms = 1 }: { atol?: number; rtol?: number; terms?: number } = {},
): Mismatch {
  const value = 'value' in want ? want.value : want;
  const absSum = 'value' in want ? want.absSum : undefined;
  const eps = 2 ** -23;
  let checked = 0;
  let maxAbsError = 0;
  let worst: Mismatch['worst'];
  let worstExcess = 0;
  for (let i = 0; i < value.length; i++) {
    const w = value[i]!;
    if (Number.isNaN(w)) continue;
    checked++;
    const g = got[i]!;
    const error = Math.abs(g - w);
    if (error > maxAbsError || Number.isNaN(error)) maxAbsError = Number.isNaN(error) ? Infinity : error;
    const tolerance = atol + rtol * Math.abs(w) + (absSum ? Math.sqrt(terms) * eps * absSum[i]! : 0);
    const excess = Number.isNaN(error) ? Infinity : error - tolerance;
    if (excess > 0 && excess >= worstExcess) {
      worstExcess = excess;
      worst = { what, index: i, got: g, want: w };
    }
  }
  return worst ? { ok: false, checked, maxAbsError, worst } : { ok: true, checked, maxAbsError };
}

/** Several comparisons as one: ok when all are, the first failure's worst element. */
export function combine(parts: readonly Mismatch[]): Mismatch {
  const failed = parts.find((p) => !p.ok);
  const merged = {
    ok: !failed,
    checked: parts.reduce((a, p) => a + p.checked, 0),
    maxAbsError: Math.max(0, ...parts.map((p) => p.maxAbsError)),
  };
  return failed?.worst ? { ...merged, worst: failed.worst } : merged;
}
