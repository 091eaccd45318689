// Dense layer kernels: Y = X·Wᵀ + b (optionally ReLU), and its two backward forms.
//
// Layouts (all row-major f32):
//   X:      (M, K)   layer input; rows are samples
//   W:      (N, K)   weights, PyTorch's nn.Linear layout, at params[W_OFF ..]
//   b:      (N)      bias, at params[B_OFF ..]
//   Y, dY:  (M, N)   layer output and its gradient
//   dX:     (M, K)   gradient w.r.t. the input, ReLU mask of the previous layer fused in
//   dW:     (N, K)   weight gradient, at grads[W_OFF ..];  db: (N) at grads[B_OFF ..]
// `params`, `grads`, `params_out` and `velocity` are the model's flat parameter buffers: every
// layer's tensors at fixed offsets, so one binding serves every layer and SGD can run in one pass.
//
// Three variants of the same entry points, chosen per adapter (src/model/network.ts):
//   tiles:  every invocation computes a TILE_M × TILE_N block of outputs in registers and reads
//           its operands straight from global memory, with no workgroup memory and no barriers: on
//           a batch of 64 the whole working set sits in cache, and software adapters (lavapipe,
//           SwiftShader) pay dearly for barriers.
//   *_rows: one output column per invocation over a block of rows (SwiftShader; see below).
//   *_split: the tiles with the reduction split across a workgroup's z-slices (GPUs; see below).
// Out-of-range rows and columns are clamped on load (always a valid address) and masked on store.

const TILE_M: u32 = 4u;
const TILE_N: u32 = 4u;

override M: u32;
override N: u32;
override K: u32;
override W_OFF: u32 = 0u;
override B_OFF: u32 = 0u;
override RELU: bool = false;      // forward: apply ReLU to Y
override MASK_RELU: bool = false; // grad_input: zero dX where X <= 0 (X is the previous layer's ReLU output)
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

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

alias Tile = array<array<f32, TILE_N>, TILE_M>;

// Σ_{k ∈ [k_begin, k_end)} X[m0 + i, k] · W[n0 + j, k] for the tile's i < TILE_M, j < TILE_N.
fn forward_partial(m0: u32, n0: u32, k_begin: u32, k_end: u32) -> Tile {
  var x_row: array<u32, TILE_M>;
  var w_row: array<u32, TILE_N>;
  for (var i = 0u; i < TILE_M; i++) { x_row[i] = min(m0 + i, M - 1u) * K; }
  for (var j = 0u; j < TILE_N; j++) { w_row[j] = W_OFF + min(n0 + j, N - 1u) * K; }
  var acc: Tile;
  for (var k = k_begin; k < k_end; k++) {
    var a: array<f32, TILE_M>;
    var b: array<f32, TILE_N>;
    for (var i = 0u; i < TILE_M; i++) { a[i] = x[x_row[i] + k]; }
    for (var j = 0u; j < TILE_N; j++) { b[j] = params[w_row[j] + k]; }
    for (var i = 0u; i < TILE_M; i++) {
      for (var j = 0u; j < TILE_N; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
    }
  }
  return acc;
}

fn forward_store(m: u32, n: u32, sum: f32) {
  var v = sum + params[B_OFF + n];
  if (RELU) { v = max(v, 0.0); }
  y[m * N + n] = v;
}

// Y[m, n] = Σ_k X[m, k] · W[n, k] + b[n]       grid: (⌈N / (WG_X·TILE_N)⌉, ⌈M / (WG_Y·TILE_M)⌉)
@compute @workgroup_size(WG_X, WG_Y)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * TILE_M;
  let n0 = gid.x * TILE_N;
  if (m0 >= M || n0 >= N) { return; }
  let acc = forward_partial(m0, n0, 0u, K);
  for (var j = 0u; j < TILE_N; j++) {
    let n = n0 + j;
    if (n >= N) { break; }
    for (var i = 0u; i < TILE_M; i++) {
      let m = m0 + i;
      if (m >= M) { break; }
      forward_store(m, n, acc[i][j]);
    }
  }
}

// Σ_{n ∈ [n_begin, n_end)} dY[m0 + i, n] · W[n, k0 + j]: a tile of dX before the mask.
fn grad_input_partial(m0: u32, k0: u32, n_begin: u32, n_end: u32) -> Tile {
  var dy_row: array<u32, TILE_M>;
  var col: array<u32, TILE_N>;
  for (var i = 0u; i < TILE_M; i++) { dy_row[i] = min(m0 + i, M - 1u) * N; }
  for (var j = 0u; j < TILE_N; j++) { col[j] = W_OFF + min(k0 + j, K - 1u); }
  var acc: Tile;
  for (var n = n_begin; n < n_end; n++) {
    var a: array<f32, TILE_M>;
    var b: array<f32, TILE_N>;
    for (var i = 0u; i < TILE_M; i++) { a[i] = dy[dy_row[i] + n]; }
    for (var j = 0u; j < TILE_N; j++) { b[j] = params[col[j] + n * K]; }
    for (var i = 0u; i < TILE_M; i++) {
      for (var j = 0u; j < TILE_N; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
    }
  }
  return acc;
}

fn grad_input_store(m: u32, k: u32, sum: f32) {
  var v = sum;
  if (MASK_RELU && x[m * K + k] <= 0.0) { v = 0.0; }
  dx[m * K + k] = v;
}

// dX[m, k] = Σ_n dY[m, n] · W[n, k], times 1[X[m, k] > 0] when MASK_RELU.
// Columns of this tile are k0 .. k0 + TILE_N; rows are samples starting at m0.
fn grad_input_tile(m0: u32, k0: u32) {
  if (m0 >= M || k0 >= K) { return; }
  let acc = grad_input_partial(m0, k0, 0u, N);
  for (var i = 0u; i < TILE_M; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    for (var j = 0u; j < TILE_N; j++) {
      let k = k0 + j;
      if (k >= K) { break; }
      grad_input_store(m, k, acc[i][j]);
    }
  }
}

// dW[n, k] = Σ_m dY[m, n] · X[m, k] and db[n] = Σ_m dY[m, n] for the tile of rows n0.. and
// columns k0..; the tiles of the first column also produce db.
struct WeightTile {
  dw: Tile,
  db: array<f32, TILE_M>,
}

fn grad_weight_tile(n0: u32, k0: u32) -> WeightTile {
  var dy_col: array<u32, TILE_M>;
  var x_col: array<u32, TILE_N>;
  for (var i = 0u; i < TILE_M; i++) { dy_col[i] = min(n0 + i, N - 1u); }
  for (var j = 0u; j < TILE_N; j++) { x_col[j] = min(k0 + j, K - 1u); }
  var t: WeightTile;
  for (var m = 0u; m < M; m++) {
    var a: array<f32, TILE_M>;
    var b: array<f32, TILE_N>;
    for (var i = 0u; i < TILE_M; i++) { a[i] = dy[m * N + dy_col[i]]; }
    for (var j = 0u; j < TILE_N; j++) { b[j] = x[m * K + x_col[j]]; }
    for (var i = 0u; i < TILE_M; i++) {
      t.db[i] += a[i];
      for (var j = 0u; j < TILE_N; j++) { t.dw[i][j] = fma(a[i], b[j], t.dw[i][j]); }
    }
  }
  return t;
}

// PyTorch's SGD rule (dampening 0, no Nesterov):  g += wd·w;  v = μ·v + g;  w' = w − lr·v.
fn sgd_update(at: u32, grad: f32) {
  let w = params[at];
  let g = grad + hyper.weight_decay * w;
  let v = hyper.momentum * velocity[at] + g;
  velocity[at] = v;
  params_out[at] = w - hyper.lr * v;
}

fn sgd_weight_tile(n0: u32, k0: u32) {
  if (n0 >= N || k0 >= K) { return; }
  let t = grad_weight_tile(n0, k0);
  for (var i = 0u; i < TILE_M; i++) {
    let n = n0 + i;
    if (n >= N) { break; }
    for (var j = 0u; j < TILE_N; j++) {
      let k = k0 + j;
      if (k >= K) { break; }
      sgd_update(W_OFF + n * K + k, t.dw[i][j]);
    }
    if (k0 == 0u) { sgd_update(B_OFF + n, t.db[i]); }
  }
}

// grid: (⌈K / (WG_X·TILE_N)⌉, ⌈M / (WG_Y·TILE_M)⌉)
@compute @workgroup_size(WG_X, WG_Y)
fn grad_input(@builtin(global_invocation_id) gid: vec3<u32>) {
  grad_input_tile(gid.y * TILE_M, gid.x * TILE_N);
}

// grid: (⌈K / (WG_X·TILE_N)⌉, ⌈N / (WG_Y·TILE_M)⌉)
@compute @workgroup_size(WG_X, WG_Y)
fn grad_weight(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.y * TILE_M;
  let k0 = gid.x * TILE_N;
  if (n0 >= N || k0 >= K) { return; }
  let t = grad_weight_tile(n0, k0);
  for (var i = 0u; i < TILE_M; i++) {
    let n = n0 + i;
    if (n >= N) { break; }
    for (var j = 0u; j < TILE_N; j++) {
      let k = k0 + j;
      if (k >= K) { break; }
      grads[W_OFF + n * K + k] = t.dw[i][j];
    }
    if (k0 == 0u) { grads[B_OFF + n] = t.db[i]; }
  }
}

// Weight and bias gradients with the SGD-momentum update fused: reads `params`, writes `params_out`.
// grid: as grad_weight
@compute @workgroup_size(WG_X, WG_Y)
fn grad_weight_sgd(@builtin(global_invocation_id) gid: vec3<u32>) {
  sgd_weight_tile(gid.y * TILE_M, gid.x * TILE_N);
}

// One dispatch for a whole hidden layer's backward pass: the first ⌈N / (WG_Y·TILE_M)⌉ rows of
// workgroups update W and b (fused SGD), the rest compute dX. Both grids have K columns. dX reads
// the old weights from `params` while the update writes `params_out`, so the caller ping-pongs
// two parameter buffers between steps.
// grid: (⌈K / (WG_X·TILE_N)⌉, ⌈N / (WG_Y·TILE_M)⌉ + ⌈M / (WG_Y·TILE_M)⌉)
@compute @workgroup_size(WG_X, WG_Y)
fn backward_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let weight_rows = (N + WG_Y * TILE_M - 1u) / (WG_Y * TILE_M);
  let col = (wid.x * WG_X + lid.x) * TILE_N;
  if (wid.y < weight_rows) {
    sgd_weight_tile((wid.y * WG_Y + lid.y) * TILE_M, col);
  } else {
    grad_input_tile(((wid.y - weight_rows) * WG_Y + lid.y) * TILE_M, col);
  }
}

// ---------------------------------------------------------------------------------------------
// Row-block variant, for software adapters (lavapipe, SwiftShader). There a workgroup runs as
// loops over SIMD lanes, a load whose address differs per lane is a gather, and a load whose
// address is the same for every lane is one scalar load and a broadcast. So each lane owns one
// output column and the workgroup a block of ROW_BLOCK rows taken from workgroup_id alone: every
// inner step is one gather and ROW_BLOCK broadcast loads feeding ROW_BLOCK FMAs (the 4×4 tiles
// above make it 8 gathers for 16 FMAs). Same bindings and results as the tiled entry points.
// Grids: x = ⌈columns / WG_X⌉ with columns N for forward and K otherwise; y = ⌈rows / ROW_BLOCK⌉.

const ROW_BLOCK: u32 = 16u;

@compute @workgroup_size(WG_X)
fn forward_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x * WG_X + lid.x;
  let m0 = wid.y * ROW_BLOCK;
  let w_row = W_OFF + min(n, N - 1u) * K;
  var acc: array<f32, ROW_BLOCK>;
  for (var k = 0u; k < K; k++) {
    let w = params[w_row + k];
    for (var i = 0u; i < ROW_BLOCK; i++) { acc[i] = fma(x[min(m0 + i, M - 1u) * K + k], w, acc[i]); }
  }
  if (n >= N) { return; }
  let bias = params[B_OFF + n];
  for (var i = 0u; i < ROW_BLOCK; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    var v = acc[i] + bias;
    if (RELU) { v = max(v, 0.0); }
    y[m * N + n] = v;
  }
}

fn grad_input_rows_block(m0: u32, k: u32) {
  let col = W_OFF + min(k, K - 1u);
  var acc: array<f32, ROW_BLOCK>;
  for (var n = 0u; n < N; n++) {
    let w = params[col + n * K];
    for (var i = 0u; i < ROW_BLOCK; i++) { acc[i] = fma(dy[min(m0 + i, M - 1u) * N + n], w, acc[i]); }
  }
  if (k >= K) { return; }
  for (var i = 0u; i < ROW_BLOCK; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    var v = acc[i];
    if (MASK_RELU && x[m * K + k] <= 0.0) { v = 0.0; }
    dx[m * K + k] = v;
  }
}

struct WeightRows {
  dw: array<f32, ROW_BLOCK>,
  db: array<f32, ROW_BLOCK>,
}

// dW[n0 + i, k] and db[n0 + i] for i < ROW_BLOCK.
fn grad_weight_rows_block(n0: u32, k: u32) -> WeightRows {
  let x_col = min(k, K - 1u);
  var t: WeightRows;
  for (var m = 0u; m < M; m++) {
    let xv = x[m * K + x_col];
    for (var i = 0u; i < ROW_BLOCK; i++) {
      let g = dy[m * N + min(n0 + i, N - 1u)];
      t.dw[i] = fma(g, xv, t.dw[i]);
      t.db[i] += g;
    }
  }
  return t;
}

fn sgd_weight_rows_block(n0: u32, k: u32) {
  let t = grad_weight_rows_block(n0, k);
  if (k >= K) { return; }
  for (var i = 0u; i < ROW_BLOCK; i++) {
    let n = n0 + i;
    if (n >= N) { break; }
    sgd_update(W_OFF + n * K + k, t.dw[i]);
    if (k == 0u) { sgd_update(B_OFF + n, t.db[i]); }
  }
}

@compute @workgroup_size(WG_X)
fn grad_input_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  grad_input_rows_block(wid.y * ROW_BLOCK, wid.x * WG_X + lid.x);
}

@compute @workgroup_size(WG_X)
fn grad_weight_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = wid.y * ROW_BLOCK;
  let k = wid.x * WG_X + lid.x;
  let t = grad_weight_rows_block(n0, k);
  if (k >= K) { return; }
  for (var i = 0u; i < ROW_BLOCK; i++) {
    let n = n0 + i;
    if (n >= N) { break; }
    grads[W_OFF + n * K + k] = t.dw[i];
    if (k == 0u) { grads[B_OFF + n] = t.db[i]; }
  }
}

@compute @workgroup_size(WG_X)
fn grad_weight_sgd_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  sgd_weight_rows_block(wid.y * ROW_BLOCK, wid.x * WG_X + lid.x);
}

// grid: (⌈K / WG_X⌉, ⌈N / ROW_BLOCK⌉ + ⌈M / ROW_BLOCK⌉); as backward_fused, ping-pong params.
@compute @workgroup_size(WG_X)
fn backward_fused_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let weight_blocks = (N + ROW_BLOCK - 1u) / ROW_BLOCK;
  let k = wid.x * WG_X + lid.x;
  if (wid.y < weight_blocks) {
    sgd_weight_rows_block(wid.y * ROW_BLOCK, k);
  } else {
    grad_input_rows_block((wid.y - weight_blocks) * ROW_BLOCK, k);
  }
}

// ---------------------------------------------------------------------------------------------
// Split-reduction variant, for GPUs at small batch sizes. At batch 64 the tiled kernels launch
// few invocations (2,048 for the first layer's forward), each with a long serial loop (784
// steps): most of a large GPU idles while each invocation waits on its own chain of loads. Here
// a workgroup is (WG_X, WG_Y, SPLIT): every z-slice computes the same block of
// BLOCK_ROWS × BLOCK_COLS outputs over its own 1/SPLIT of the reduction, the partial tiles meet
// in workgroup memory, and after one barrier each invocation sums and stores some of the block.
// The weight gradient reduces over the batch; its bias gradient is column K of the same block,
// where X reads as 1, so db needs no reduction of its own.
// Grids: x = ⌈columns / BLOCK_COLS⌉ with columns N for forward, K for grad_input and K + 1 for
// the weight kernels; y = ⌈rows / BLOCK_ROWS⌉ (backward_fused_split: weight blocks, then dX).
// No invocation returns early: every one must reach the barrier.

override SPLIT: u32 = 1u;
override BLOCK_ROWS: u32 = WG_Y * TILE_M;
override BLOCK_COLS: u32 = WG_X * TILE_N;
var<workgroup> partial: array<f32, SPLIT * BLOCK_ROWS * BLOCK_COLS>;

// [begin, end) of the `extent` reduction steps that z-slice `z` takes.
fn split_range(z: u32, extent: u32) -> vec2<u32> {
  let chunk = (extent + SPLIT - 1u) / SPLIT;
  return vec2(min(z * chunk, extent), min((z + 1u) * chunk, extent));
}

fn split_store(lid: vec3<u32>, t: Tile) {
  for (var i = 0u; i < TILE_M; i++) {
    let row = (lid.z * BLOCK_ROWS + lid.y * TILE_M + i) * BLOCK_COLS + lid.x * TILE_N;
    for (var j = 0u; j < TILE_N; j++) { partial[row + j] = t[i][j]; }
  }
}

fn split_sum(e: u32) -> f32 {
  var s = 0.0;
  for (var z = 0u; z < SPLIT; z++) { s += partial[z * BLOCK_ROWS * BLOCK_COLS + e]; }
  return s;
}

// Σ_{m ∈ [m_begin, m_end)} dY[m, n0 + i] · X'[m, k0 + j] with X' = [X | 1]: dW, and db in column K.
fn weight_partial(n0: u32, k0: u32, m_begin: u32, m_end: u32) -> Tile {
  var dy_col: array<u32, TILE_M>;
  var x_col: array<u32, TILE_N>;
  for (var i = 0u; i < TILE_M; i++) { dy_col[i] = min(n0 + i, N - 1u); }
  for (var j = 0u; j < TILE_N; j++) { x_col[j] = min(k0 + j, K - 1u); }
  var acc: Tile;
  for (var m = m_begin; m < m_end; m++) {
    var a: array<f32, TILE_M>;
    var b: array<f32, TILE_N>;
    for (var i = 0u; i < TILE_M; i++) { a[i] = dy[m * N + dy_col[i]]; }
    for (var j = 0u; j < TILE_N; j++) { b[j] = select(x[m * K + x_col[j]], 1.0, k0 + j >= K); }
    for (var i = 0u; i < TILE_M; i++) {
      for (var j = 0u; j < TILE_N; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
    }
  }
  return acc;
}

// The block's weight gradient (K + 1 columns, the last being db) reduced over the batch; the
// caller finishes element `e` of the block after the barrier.
fn weight_block(block: vec2<u32>, lid: vec3<u32>) {
  let r = split_range(lid.z, M);
  split_store(lid, weight_partial(block.y * BLOCK_ROWS + lid.y * TILE_M, block.x * BLOCK_COLS + lid.x * TILE_N, r.x, r.y));
}

fn sgd_weight_block(block: vec2<u32>, lid: vec3<u32>, li: u32) {
  weight_block(block, lid);
  workgroupBarrier();
  for (var e = li; e < BLOCK_ROWS * BLOCK_COLS; e += WG_X * WG_Y * SPLIT) {
    let n = block.y * BLOCK_ROWS + e / BLOCK_COLS;
    let k = block.x * BLOCK_COLS + e % BLOCK_COLS;
    if (n < N && k < K) { sgd_update(W_OFF + n * K + k, split_sum(e)); }
    if (n < N && k == K) { sgd_update(B_OFF + n, split_sum(e)); }
  }
}

fn grad_input_block(block: vec2<u32>, lid: vec3<u32>, li: u32) {
  let r = split_range(lid.z, N);
  split_store(lid, grad_input_partial(block.y * BLOCK_ROWS + lid.y * TILE_M, block.x * BLOCK_COLS + lid.x * TILE_N, r.x, r.y));
  workgroupBarrier();
  for (var e = li; e < BLOCK_ROWS * BLOCK_COLS; e += WG_X * WG_Y * SPLIT) {
    let m = block.y * BLOCK_ROWS + e / BLOCK_COLS;
    let k = block.x * BLOCK_COLS + e % BLOCK_COLS;
    if (m < M && k < K) { grad_input_store(m, k, split_sum(e)); }
  }
}

@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn forward_split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * BLOCK_ROWS;
  let n0 = wid.x * BLOCK_COLS;
  let r = split_range(lid.z, K);
  split_store(lid, forward_partial(m0 + lid.y * TILE_M, n0 + lid.x * TILE_N, r.x, r.y));
  workgroupBarrier();
  for (var e = li; e < BLOCK_ROWS * BLOCK_COLS; e += WG_X * WG_Y * SPLIT) {
    let m = m0 + e / BLOCK_COLS;
    let n = n0 + e % BLOCK_COLS;
    if (m < M && n < N) { forward_store(m, n, split_sum(e)); }
  }
}

@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn grad_input_split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                    @builtin(local_invocation_index) li: u32) {
  grad_input_block(wid.xy, lid, li);
}

@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn grad_weight_split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                     @builtin(local_invocation_index) li: u32) {
  weight_block(wid.xy, lid);
  workgroupBarrier();
  for (var e = li; e < BLOCK_ROWS * BLOCK_COLS; e += WG_X * WG_Y * SPLIT) {
    let n = wid.y * BLOCK_ROWS + e / BLOCK_COLS;
    let k = wid.x * BLOCK_COLS + e % BLOCK_COLS;
    if (n < N && k < K) { grads[W_OFF + n * K + k] = split_sum(e); }
    if (n < N && k == K) { grads[B_OFF + n] = split_sum(e); }
  }
}

@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn grad_weight_sgd_split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                         @builtin(local_invocation_index) li: u32) {
  sgd_weight_block(wid.xy, lid, li);
}

// As backward_fused: the first ⌈N / BLOCK_ROWS⌉ rows of workgroups update W and b, the rest
// compute dX; the branch is on workgroup_id, so each side's barrier stays in uniform control flow.
@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn backward_fused_split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                        @builtin(local_invocation_index) li: u32) {
  let weight_rows = (N + BLOCK_ROWS - 1u) / BLOCK_ROWS;
  if (wid.y < weight_rows) {
    sgd_weight_block(wid.xy, lid, li);
  } else {
    grad_input_block(vec2(wid.x, wid.y - weight_rows), lid, li);
  }
}
