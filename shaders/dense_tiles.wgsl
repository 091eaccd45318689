// Dense layer kernels, register-tile variant: Y = X·Wᵀ + b (optionally ReLU), and its two backward
// forms. Layouts, overrides and bindings: lib/dense_common.wgsl; tiles: lib/dense_tile.wgsl.
//
// Every invocation computes a TILE_M × TILE_N block of outputs in registers and reads its operands
// straight from global memory, with no workgroup memory and no barriers: on a batch of 64 the
// whole working set sits in cache, and software adapters (lavapipe) pay dearly for barriers.
// The other variants (dense_rows.wgsl, dense_split.wgsl) have the same entry points and bindings.
//
// 8 × 8 outputs an invocation: llvmpipe turns every storage load into a loop over its SIMD lanes
// with a bounds check per lane (about ten instructions a lane), so a step costs about its loads,
// and a tile of TILE_M × TILE_N loads TILE_M + TILE_N values for TILE_M·TILE_N FMAs. Measured on
// lavapipe (bench/RESULTS.md, 2026-12-02): a training step 1.6× faster (wall and CPU time) than
// 4 × 4 tiles in 8 × 8 workgroups; larger tiles spill the accumulators and compile for minutes.
const TILE_M: u32 = 8u;
const TILE_N: u32 = 8u;

// Y[m, n] = Σ_k X[m, k] · W[n, k] + b[n]       grid: (⌈N / (WG_X·TILE_N)⌉, ⌈M / (WG_Y·TILE_M)⌉)
@compute @workgroup_size(WG_X, WG_Y)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * TILE_M;
  let n0 = gid.x * TILE_N;
  if (m0 >= dims.m || n0 >= dims.n) { return; }
  let acc = forward_partial(m0, n0, 0u, dims.k);
  // Constant loop bounds (guarded at the layer's edge): unrolled, every index into the tile is a
  // constant and the tile stays in registers; one index known only at run time puts the whole
  // array in per-lane scratch memory on llvmpipe.
  let rows = min(TILE_M, dims.m - m0);
  let cols = min(TILE_N, dims.n - n0);
  for (var j = 0u; j < TILE_N; j++) {
    for (var i = 0u; i < TILE_M; i++) { if (i < rows && j < cols) { forward_store(m0 + i, n0 + j, acc[i][j]); } }
  }
}

// dX[m, k] = Σ_n dY[m, n] · W[n, k], times 1[X[m, k] > 0] when MASK_RELU.
// Columns of this tile are k0 .. k0 + TILE_N; rows are samples starting at m0.
fn grad_input_tile(m0: u32, k0: u32) {
  if (m0 >= dims.m || k0 >= dims.k) { return; }
  let acc = grad_input_partial(m0, k0, 0u, dims.n);
  let rows = min(TILE_M, dims.m - m0);
  let cols = min(TILE_N, dims.k - k0);
  for (var i = 0u; i < TILE_M; i++) {
    for (var j = 0u; j < TILE_N; j++) { if (i < rows && j < cols) { grad_input_store(m0 + i, k0 + j, acc[i][j]); } }
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
  for (var i = 0u; i < TILE_M; i++) { dy_col[i] = min(n0 + i, dims.n - 1u); }
  for (var j = 0u; j < TILE_N; j++) { x_col[j] = min(k0 + j, dims.k - 1u); }
  var t: WeightTile;
  for (var m = 0u; m < dims.m; m++) {
    var a: array<f32, TILE_M>;
    var b: array<f32, TILE_N>;
    for (var i = 0u; i < TILE_M; i++) { a[i] = dy[m * dims.n + dy_col[i]]; }
    for (var j = 0u; j < TILE_N; j++) { b[j] = x[m * dims.k + x_col[j]]; }
    for (var i = 0u; i < TILE_M; i++) {
      t.db[i] += a[i];
      for (var j = 0u; j < TILE_N; j++) { t.dw[i][j] = fma(a[i], b[j], t.dw[i][j]); }
    }
  }
  return t;
}

// The loops run to the tile's edge within the layer, a bound known only at run time: with constant
// bounds the compiler unrolls them into TILE_M·TILE_N copies of the optimizer's rule, which took
// lavapipe minutes to compile for 8×8 tiles (one copy: seconds). So that no index into the tile is
// a run-time value either (which would put it in scratch memory, as forward's comment says), each
// pass updates element [0] and shifts the rest down by one, with constant-bound (unrolled) copies:
// register moves. Measured: 2–5% off a lavapipe training step (bench/RESULTS.md, 2026-12-02).
fn update_weight_tile(n0: u32, k0: u32) {
  if (n0 >= dims.n || k0 >= dims.k) { return; }
  let t = grad_weight_tile(n0, k0);
  let rows = min(TILE_M, dims.n - n0);
  let cols = min(TILE_N, dims.k - k0);
  var dw = t.dw;
  var db = t.db;
  for (var i = 0u; i < rows; i++) {
    let n = n0 + i;
    var row = dw[0];
    for (var j = 0u; j < cols; j++) {
      update_at(dims.w_off + n * dims.k + k0 + j, row[0]);
      for (var c = 0u; c + 1u < TILE_N; c++) { row[c] = row[c + 1u]; }
    }
    if (k0 == 0u) { update_at(dims.b_off + n, db[0]); }
    for (var r = 0u; r + 1u < TILE_M; r++) {
      dw[r] = dw[r + 1u];
      db[r] = db[r + 1u];
    }
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
  if (n0 >= dims.n || k0 >= dims.k) { return; }
  let t = grad_weight_tile(n0, k0);
  let rows = min(TILE_M, dims.n - n0);
  let cols = min(TILE_N, dims.k - k0);
  for (var i = 0u; i < TILE_M; i++) {
    let n = n0 + i;
    for (var j = 0u; j < TILE_N; j++) { if (i < rows && j < cols) { grads[dims.w_off + n * dims.k + k0 + j] = t.dw[i][j]; } }
    if (k0 == 0u && i < rows) { grads[dims.b_off + n] = t.db[i]; }
  }
}

// Weight and bias gradients with the optimizer update fused: reads `params`, writes `params_out`.
// grid: as grad_weight
@compute @workgroup_size(WG_X, WG_Y)
fn grad_weight_update(@builtin(global_invocation_id) gid: vec3<u32>) {
  update_weight_tile(gid.y * TILE_M, gid.x * TILE_N);
}

// One dispatch for a whole hidden layer's backward pass: the first ⌈N / (WG_Y·TILE_M)⌉ rows of
// workgroups update W and b (fused update), the rest compute dX. Both grids have K columns. dX
// reads the old weights from `params` while the update writes `params_out`, so the caller
// ping-pongs two parameter buffers between steps.
// grid: (⌈K / (WG_X·TILE_N)⌉, ⌈N / (WG_Y·TILE_M)⌉ + ⌈M / (WG_Y·TILE_M)⌉)
@compute @workgroup_size(WG_X, WG_Y)
fn backward_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let weight_rows = (dims.n + WG_Y * TILE_M - 1u) / (WG_Y * TILE_M);
  let col = (wid.x * WG_X + lid.x) * TILE_N;
  if (wid.y < weight_rows) {
    update_weight_tile((wid.y * WG_Y + lid.y) * TILE_M, col);
  } else {
    grad_input_tile(((wid.y - weight_rows) * WG_Y + lid.y) * TILE_M, col);
  }
}
