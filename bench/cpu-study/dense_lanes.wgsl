// PROTOTYPE, not used by the engine (bench/RESULTS.md, 2026-12-01): the lane-block shape of
// study.mjs written as an engine variant file. Its forward measured 1.2-1.5x the tiles on lavapipe
// (engine-ab.mjs), but llvmpipe took ~220 s (under a load average of ~15) to compile and first run
// backward_fused at l2, against ~10 s for the tiles: the 16x8 block of accumulators, written out by
// NIR's loop unrolling, is too much code for LLVM. Smaller blocks or a generated, unrolled body
// are the next things to try.
//
// Dense layer kernels, lane-block variant for llvmpipe (lavapipe): Y = X·Wᵀ + b (optionally ReLU)
// and its two backward forms, with the same entry points, bindings and results as matmul.wgsl.
//
// Layouts (all row-major f32), as in matmul.wgsl:
//   X: (M, K) layer input;  W: (N, K) at params[W_OFF ..];  b: (N) at params[B_OFF ..]
//   Y, dY: (M, N);  dX: (M, K);  dW: (N, K) at grads[W_OFF ..];  db: (N) at grads[B_OFF ..]
//
// Why this shape (bench/cpu-study/study.mjs, bench/RESULTS.md): llvmpipe runs a workgroup as
// 8-wide SIMD loops, and Mesa 25.0 turns every storage-buffer load inside a loop into one scalar
// load per lane, whether or not the address differs between lanes. What a load costs is then
// fixed, and what matters is how many FMAs each loaded value feeds. Here a workgroup is one row of
// WG_X lanes; it owns ROWS rows of the output (taken from workgroup_id) and each lane COLS columns,
// WG_X apart. Every reduction step loads ROWS + COLS values and does ROWS·COLS FMAs (16 + 8 loads
// for 128 FMAs, against 4 + 4 for 16 in the 4×4 tiles). The accumulators spill to the stack, which
// llvmpipe reads and writes with plain vector moves, far cheaper than its buffer loads.
// Out-of-range rows and columns are clamped on load (always a valid address) and masked on store.
//
// Grids: x = ⌈columns / (WG_X·COLS)⌉ with columns N for forward and K otherwise;
//        y = ⌈rows / ROWS⌉ with rows M (forward, grad_input) or N (weight kernels).

const ROWS: u32 = 16u;
const COLS: u32 = 8u;

override M: u32;
override N: u32;
override K: u32;
override W_OFF: u32 = 0u;
override B_OFF: u32 = 0u;
override RELU: bool = false;      // forward: apply ReLU to Y
override MASK_RELU: bool = false; // grad_input: zero dX where X <= 0 (X is the previous layer's ReLU output)
override WG_X: u32 = 8u;

struct Hyper {
  lr: f32,
  momentum: f32,
  weight_decay: f32,
  _pad: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> grads: array<f32>;
@group(0) @binding(6) var<storage, read_write> params_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(8) var<uniform> hyper: Hyper;

alias Block = array<array<f32, COLS>, ROWS>;

// The lane's first column: lanes take adjacent columns, their COLS columns lie WG_X apart.
fn first_column(wid: vec3<u32>, lid: vec3<u32>) -> u32 {
  return wid.x * WG_X * COLS + lid.x;
}

// Y[m0 + i, n + t·WG_X] before bias, for i < ROWS, t < COLS.
fn forward_block(m0: u32, n: u32) -> Block {
  var x_row: array<u32, ROWS>;
  var w_row: array<u32, COLS>;
  for (var i = 0u; i < ROWS; i++) { x_row[i] = min(m0 + i, M - 1u) * K; }
  for (var t = 0u; t < COLS; t++) { w_row[t] = W_OFF + min(n + t * WG_X, N - 1u) * K; }
  var acc: Block;
  for (var k = 0u; k < K; k++) {
    var w: array<f32, COLS>;
    for (var t = 0u; t < COLS; t++) { w[t] = params[w_row[t] + k]; }
    for (var i = 0u; i < ROWS; i++) {
      let a = x[x_row[i] + k];
      for (var t = 0u; t < COLS; t++) { acc[i][t] = fma(a, w[t], acc[i][t]); }
    }
  }
  return acc;
}

@compute @workgroup_size(WG_X)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wid.y * ROWS;
  let n0 = first_column(wid, lid);
  let acc = forward_block(m0, n0);
  for (var t = 0u; t < COLS; t++) {
    let n = n0 + t * WG_X;
    if (n >= N) { break; }
    let bias = params[B_OFF + n];
    for (var i = 0u; i < ROWS; i++) {
      let m = m0 + i;
      if (m >= M) { break; }
      var v = acc[i][t] + bias;
      if (RELU) { v = max(v, 0.0); }
      y[m * N + n] = v;
    }
  }
}

// dX[m0 + i, k + t·WG_X] = Σ_n dY[m0 + i, n] · W[n, k + t·WG_X], masked by X > 0 when MASK_RELU.
fn grad_input_block(m0: u32, k0: u32) {
  var dy_row: array<u32, ROWS>;
  var w_col: array<u32, COLS>;
  for (var i = 0u; i < ROWS; i++) { dy_row[i] = min(m0 + i, M - 1u) * N; }
  for (var t = 0u; t < COLS; t++) { w_col[t] = W_OFF + min(k0 + t * WG_X, K - 1u); }
  var acc: Block;
  for (var n = 0u; n < N; n++) {
    var w: array<f32, COLS>;
    for (var t = 0u; t < COLS; t++) { w[t] = params[w_col[t] + n * K]; }
    for (var i = 0u; i < ROWS; i++) {
      let a = dy[dy_row[i] + n];
      for (var t = 0u; t < COLS; t++) { acc[i][t] = fma(a, w[t], acc[i][t]); }
    }
  }
  for (var t = 0u; t < COLS; t++) {
    let k = k0 + t * WG_X;
    if (k >= K) { break; }
    for (var i = 0u; i < ROWS; i++) {
      let m = m0 + i;
      if (m >= M) { break; }
      var v = acc[i][t];
      if (MASK_RELU && x[m * K + k] <= 0.0) { v = 0.0; }
      dx[m * K + k] = v;
    }
  }
}

// dW[n0 + i, k + t·WG_X] = Σ_m dY[m, n0 + i] · X[m, k + t·WG_X] and db[n0 + i] = Σ_m dY[m, n0 + i]
// (every lane sums db; the first lane of the first column block stores it).
struct WeightBlock {
  dw: Block,
  db: array<f32, ROWS>,
}

fn grad_weight_block(n0: u32, k0: u32) -> WeightBlock {
  var dy_col: array<u32, ROWS>;
  var x_col: array<u32, COLS>;
  for (var i = 0u; i < ROWS; i++) { dy_col[i] = min(n0 + i, N - 1u); }
  for (var t = 0u; t < COLS; t++) { x_col[t] = min(k0 + t * WG_X, K - 1u); }
  var b: WeightBlock;
  for (var m = 0u; m < M; m++) {
    var xv: array<f32, COLS>;
    for (var t = 0u; t < COLS; t++) { xv[t] = x[m * K + x_col[t]]; }
    for (var i = 0u; i < ROWS; i++) {
      let g = dy[m * N + dy_col[i]];
      b.db[i] += g;
      for (var t = 0u; t < COLS; t++) { b.dw[i][t] = fma(g, xv[t], b.dw[i][t]); }
    }
  }
  return b;
}

// PyTorch's SGD rule (dampening 0, no Nesterov):  g += wd·w;  v = μ·v + g;  w' = w − lr·v.
fn sgd_update(at: u32, grad: f32) {
  let w = params[at];
  let g = grad + hyper.weight_decay * w;
  let v = hyper.momentum * velocity[at] + g;
  velocity[at] = v;
  params_out[at] = w - hyper.lr * v;
}

fn sgd_weight_block(n0: u32, k0: u32) {
  let b = grad_weight_block(n0, k0);
  for (var i = 0u; i < ROWS; i++) {
    let n = n0 + i;
    if (n >= N) { break; }
    for (var t = 0u; t < COLS; t++) {
      let k = k0 + t * WG_X;
      if (k >= K) { break; }
      sgd_update(W_OFF + n * K + k, b.dw[i][t]);
    }
    if (k0 == 0u) { sgd_update(B_OFF + n, b.db[i]); }
  }
}

@compute @workgroup_size(WG_X)
fn grad_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  grad_input_block(wid.y * ROWS, first_column(wid, lid));
}

@compute @workgroup_size(WG_X)
fn grad_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = wid.y * ROWS;
  let k0 = first_column(wid, lid);
  let b = grad_weight_block(n0, k0);
  for (var i = 0u; i < ROWS; i++) {
    let n = n0 + i;
    if (n >= N) { break; }
    for (var t = 0u; t < COLS; t++) {
      let k = k0 + t * WG_X;
      if (k >= K) { break; }
      grads[W_OFF + n * K + k] = b.dw[i][t];
    }
    if (k0 == 0u) { grads[B_OFF + n] = b.db[i]; }
  }
}

// Weight and bias gradients with the SGD-momentum update fused: reads `params`, writes `params_out`.
@compute @workgroup_size(WG_X)
fn grad_weight_sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  sgd_weight_block(wid.y * ROWS, first_column(wid, lid));
}

// A hidden layer's whole backward pass in one dispatch: the first ⌈N / ROWS⌉ rows of workgroups
// update W and b (fused SGD), the rest compute dX; both sides have K columns. dX reads the old
// weights from `params` while the update writes `params_out`: the caller ping-pongs the two.
// grid: (⌈K / (WG_X·COLS)⌉, ⌈N / ROWS⌉ + ⌈M / ROWS⌉)
@compute @workgroup_size(WG_X)
fn backward_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let weight_rows = (N + ROWS - 1u) / ROWS;
  let k0 = first_column(wid, lid);
  if (wid.y < weight_rows) {
    sgd_weight_block(wid.y * ROWS, k0);
  } else {
    grad_input_block((wid.y - weight_rows) * ROWS, k0);
  }
}
