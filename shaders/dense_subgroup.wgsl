// Dense layer kernels, subgroup variant, for lavapipe (llvmpipe). Same entry points, bindings and
// results as dense_tiles.wgsl; layouts, overrides and bindings: lib/dense_common.wgsl.
//
// llvmpipe (Mesa 25.0) turns every storage load inside a loop into a loop over its SIMD lanes with
// a bounds check for each, even where all lanes read the same address, while an FMA is two vector
// instructions for all lanes: a kernel costs about the values its lanes load. In the register tiles
// every lane loads both operands of its own tile, so lanes that share rows load the same values
// again, once each. Here a workgroup is one subgroup of GROUP lanes owning BLOCK_M rows and
// GROUP·LANE_N columns of the output: lane l loads rows l and GROUP + l of the shared operand (2
// loads for BLOCK_M values), and subgroupBroadcast from a constant lane (an extract and a broadcast
// on llvmpipe) hands each value to every lane; each lane loads its own LANE_N columns of the other
// operand, GROUP apart. An inner step: 2 + LANE_N loads
// and BLOCK_M broadcasts for BLOCK_M·LANE_N FMAs, against the 8 × 8 tiles' 16 loads for 64.
// Measured (bench/cpu-study/study.mjs `sgs`, bench/RESULTS.md 2026-12-02 fourth session): the
// seed's GEMMs 1.7–2× faster than the tiles at every layer and form.
//
// Needs subgroups of at least GROUP lanes, so that a workgroup is one subgroup (tuningFor checks
// the adapter's subgroupMinSize). Every subgroupBroadcast is in uniform control flow: loop bounds
// come from `dims`, branches from workgroup_id.
// Grids: x = ⌈columns / (GROUP·LANE_N)⌉ with columns N for forward and K otherwise;
// y = ⌈rows / BLOCK_M⌉. Each output sums its reduction in order with fma, as the tiles do.
enable subgroups;

// src/kernels/dense.ts reads these three for the grids; the code below spells out that BLOCK_M is
// 2·GROUP (the two shared loads a lane makes) and that share() returns GROUP values.
const GROUP: u32 = 8u;
const BLOCK_M: u32 = 16u;
const LANE_N: u32 = 4u;

alias LaneTile = array<array<f32, LANE_N>, BLOCK_M>;

// v of lanes 0 .. GROUP, as every lane sees it (the lane is a constant: WGSL requires it).
fn share(v: f32) -> array<f32, GROUP> {
  return array<f32, GROUP>(
    subgroupBroadcast(v, 0u),
    subgroupBroadcast(v, 1u),
    subgroupBroadcast(v, 2u),
    subgroupBroadcast(v, 3u),
    subgroupBroadcast(v, 4u),
    subgroupBroadcast(v, 5u),
    subgroupBroadcast(v, 6u),
    subgroupBroadcast(v, 7u),
  );
}

// The lane's column j of a block starting at c0.
fn lane_column(c0: u32, lane: u32, j: u32) -> u32 {
  return c0 + lane + GROUP * j;
}

// acc[i][j] += a[i]·b[j] and acc[GROUP + i][j] += a2[i]·b[j]: one step of the reduction.
fn accumulate(acc: ptr<function, LaneTile>, a: array<f32, GROUP>, a2: array<f32, GROUP>, b: array<f32, LANE_N>) {
  for (var i = 0u; i < GROUP; i++) {
    for (var j = 0u; j < LANE_N; j++) {
      (*acc)[i][j] = fma(a[i], b[j], (*acc)[i][j]);
      (*acc)[GROUP + i][j] = fma(a2[i], b[j], (*acc)[GROUP + i][j]);
    }
  }
}

// Y[m, n] = Σ_k X[m, k] · W[n, k] + b[n]       grid: (⌈N / (GROUP·LANE_N)⌉, ⌈M / BLOCK_M⌉)
@compute @workgroup_size(GROUP)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wid.y * BLOCK_M;
  let n0 = wid.x * GROUP * LANE_N;
  if (m0 >= dims.m || n0 >= dims.n) { return; }
  let lane = lid.x;
  let last = dims.m - 1u;
  let x_a = min(m0 + lane, last) * dims.k;
  let x_b = min(m0 + GROUP + lane, last) * dims.k;
  var w_row: array<u32, LANE_N>;
  for (var j = 0u; j < LANE_N; j++) { w_row[j] = dims.w_off + min(lane_column(n0, lane, j), dims.n - 1u) * dims.k; }
  var acc: LaneTile;
  for (var k = 0u; k < dims.k; k++) {
    var b: array<f32, LANE_N>;
    for (var j = 0u; j < LANE_N; j++) { b[j] = params[w_row[j] + k]; }
    accumulate(&acc, share(x[x_a + k]), share(x[x_b + k]), b);
  }
  // Constant loop bounds, guarded at the layer's edge: every index into the tile is a constant.
  for (var i = 0u; i < BLOCK_M; i++) {
    for (var j = 0u; j < LANE_N; j++) {
      let n = lane_column(n0, lane, j);
      if (m0 + i < dims.m && n < dims.n) { forward_store(m0 + i, n, acc[i][j]); }
    }
  }
}

// dX[m, k] = Σ_n dY[m, n] · W[n, k], times 1[X[m, k] > 0] when MASK_RELU, for rows m0.. and the
// lane's columns of the block at k0.
fn grad_input_block(m0: u32, k0: u32, lane: u32) {
  if (m0 >= dims.m || k0 >= dims.k) { return; }
  let last = dims.m - 1u;
  let dy_a = min(m0 + lane, last) * dims.n;
  let dy_b = min(m0 + GROUP + lane, last) * dims.n;
  var col: array<u32, LANE_N>;
  for (var j = 0u; j < LANE_N; j++) { col[j] = dims.w_off + min(lane_column(k0, lane, j), dims.k - 1u); }
  var acc: LaneTile;
  for (var n = 0u; n < dims.n; n++) {
    var b: array<f32, LANE_N>;
    for (var j = 0u; j < LANE_N; j++) { b[j] = params[col[j] + n * dims.k]; }
    accumulate(&acc, share(dy[dy_a + n]), share(dy[dy_b + n]), b);
  }
  for (var i = 0u; i < BLOCK_M; i++) {
    for (var j = 0u; j < LANE_N; j++) {
      let k = lane_column(k0, lane, j);
      if (m0 + i < dims.m && k < dims.k) { grad_input_store(m0 + i, k, acc[i][j]); }
    }
  }
}

// dW[n, k] = Σ_m dY[m, n] · X[m, k] for the block's rows n0.. and the lane's columns of k0.., and
// db[n] = Σ_m dY[m, n] for the two rows this lane loads (n0 + lane, n0 + GROUP + lane).
struct WeightBlock {
  dw: LaneTile,
  db: array<f32, 2>,
}

fn grad_weight_block(n0: u32, k0: u32, lane: u32) -> WeightBlock {
  let dy_a = min(n0 + lane, dims.n - 1u);
  let dy_b = min(n0 + GROUP + lane, dims.n - 1u);
  var col: array<u32, LANE_N>;
  for (var j = 0u; j < LANE_N; j++) { col[j] = min(lane_column(k0, lane, j), dims.k - 1u); }
  var t: WeightBlock;
  for (var m = 0u; m < dims.m; m++) {
    let va = dy[m * dims.n + dy_a];
    let vb = dy[m * dims.n + dy_b];
    t.db[0] += va;
    t.db[1] += vb;
    var b: array<f32, LANE_N>;
    for (var j = 0u; j < LANE_N; j++) { b[j] = x[m * dims.k + col[j]]; }
    accumulate(&t.dw, share(va), share(vb), b);
  }
  return t;
}

// How many of the lane's columns of the block at c0 lie inside [0, count).
fn lane_columns_inside(c0: u32, lane: u32, count: u32) -> u32 {
  if (c0 + lane >= count) { return 0u; }
  return min(LANE_N, (count - c0 - lane + GROUP - 1u) / GROUP);
}

// grid: (⌈K / (GROUP·LANE_N)⌉, ⌈N / BLOCK_M⌉)
@compute @workgroup_size(GROUP)
fn grad_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = wid.y * BLOCK_M;
  let k0 = wid.x * GROUP * LANE_N;
  if (n0 >= dims.n || k0 >= dims.k) { return; }
  let lane = lid.x;
  let t = grad_weight_block(n0, k0, lane);
  for (var i = 0u; i < BLOCK_M; i++) {
    for (var j = 0u; j < LANE_N; j++) {
      let k = lane_column(k0, lane, j);
      if (n0 + i < dims.n && k < dims.k) { grads[dims.w_off + (n0 + i) * dims.k + k] = t.dw[i][j]; }
    }
  }
  if (k0 == 0u) {
    if (n0 + lane < dims.n) { grads[dims.b_off + n0 + lane] = t.db[0]; }
    if (n0 + GROUP + lane < dims.n) { grads[dims.b_off + n0 + GROUP + lane] = t.db[1]; }
  }
}

// The update's loops run to the block's edge within the layer, a bound known only at run time, so
// that the optimizer's rule is compiled once, not once per element of the tile (which took lavapipe
// minutes for the 8 × 8 tiles); each pass updates element [0] and shifts the rest down by one
// (register moves), so no index into the tile is a run-time value either (dense_tiles.wgsl).
fn update_weight_block(n0: u32, k0: u32, lane: u32) {
  if (n0 >= dims.n || k0 >= dims.k) { return; }
  let t = grad_weight_block(n0, k0, lane);
  let rows = min(BLOCK_M, dims.n - n0);
  let cols = lane_columns_inside(k0, lane, dims.k);
  var dw = t.dw;
  for (var i = 0u; i < rows; i++) {
    var row = dw[0];
    for (var j = 0u; j < cols; j++) {
      update_at(dims.w_off + (n0 + i) * dims.k + lane_column(k0, lane, j), row[0]);
      for (var c = 0u; c + 1u < LANE_N; c++) { row[c] = row[c + 1u]; }
    }
    for (var r = 0u; r + 1u < BLOCK_M; r++) { dw[r] = dw[r + 1u]; }
  }
  if (k0 == 0u) {
    // the lane's bias rows n0 + lane and n0 + GROUP + lane, as many as lie inside the layer
    let biases = select(0u, select(1u, 2u, n0 + GROUP + lane < dims.n), n0 + lane < dims.n);
    var db = t.db;
    for (var h = 0u; h < biases; h++) {
      update_at(dims.b_off + n0 + lane + GROUP * h, db[0]);
      db[0] = db[1];
    }
  }
}

// Weight and bias gradients with the optimizer update fused: reads `params`, writes `params_out`.
// grid: as grad_weight
@compute @workgroup_size(GROUP)
fn grad_weight_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  update_weight_block(wid.y * BLOCK_M, wid.x * GROUP * LANE_N, lid.x);
}

// grid: (⌈K / (GROUP·LANE_N)⌉, ⌈M / BLOCK_M⌉)
@compute @workgroup_size(GROUP)
fn grad_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  grad_input_block(wid.y * BLOCK_M, wid.x * GROUP * LANE_N, lid.x);
}

// One dispatch for a whole hidden layer's backward pass, as dense_tiles.wgsl's: the first
// ⌈N / BLOCK_M⌉ rows of workgroups update W and b, the rest compute dX from the old weights.
// grid: (⌈K / (GROUP·LANE_N)⌉, ⌈N / BLOCK_M⌉ + ⌈M / BLOCK_M⌉)
@compute @workgroup_size(GROUP)
fn backward_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let weight_rows = (dims.n + BLOCK_M - 1u) / BLOCK_M;
  let k0 = wid.x * GROUP * LANE_N;
  if (wid.y < weight_rows) {
    update_weight_block(wid.y * BLOCK_M, k0, lid.x);
  } else {
    grad_input_block((wid.y - weight_rows) * BLOCK_M, k0, lid.x);
  }
}
