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
// seed's GEMMs 1.7–2× faster than the tiles at every layer and form; with the four-step loop and
// VEC4 below, a training step 2.0× faster (13.4–13.9 against 27.8 ms).
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

// VEC4 (src/kernels/dense.ts denseVec4: K % 4 == 0 and W_OFF % 4 == 0) reads the lane's own
// operand four floats at a time through the vec4 views below, which the runtime binds to the same
// buffers as `x` and `params`: forward reads X's and W's rows four steps of k a load; grad_input
// and grad_weight give each lane 4 adjacent columns (instead of 4 columns GROUP apart) and read W's
// or X's row at them in one load. 1.15–1.3× faster again (study.mjs `sgt`, `sgw`; a step 16.3 →
// 13.4 ms). The fused update then reads the lane's 4 weights and their state and writes both in
// one access each (fused_update.wgsl update_quad), not 13: grad_weight_update l1 8.3 → 4.2 ms and
// backward_fused l2 3.5 → 2.2 ms on an AMD EPYC host (bench/RESULTS.md, fifth session).
override VEC4: bool = false;
@group(0) @binding(12) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read> params4: array<vec4<f32>>;

alias LaneTile = array<array<f32, LANE_N>, BLOCK_M>;

// One step of the reduction: the block's BLOCK_M shared values (every lane sees all), the lane's
// LANE_N own values, and the two shared values this lane loaded itself (grad_weight sums them for db).
struct Step {
  a: array<f32, BLOCK_M>,
  b: array<f32, LANE_N>,
  own: vec2<f32>,
}

// Lanes 0 .. GROUP's v, then their v2, as every lane sees them (the lane must be a constant).
fn share(v: f32, v2: f32) -> array<f32, BLOCK_M> {
  return array<f32, BLOCK_M>(
    subgroupBroadcast(v, 0u),
    subgroupBroadcast(v, 1u),
    subgroupBroadcast(v, 2u),
    subgroupBroadcast(v, 3u),
    subgroupBroadcast(v, 4u),
    subgroupBroadcast(v, 5u),
    subgroupBroadcast(v, 6u),
    subgroupBroadcast(v, 7u),
    subgroupBroadcast(v2, 0u),
    subgroupBroadcast(v2, 1u),
    subgroupBroadcast(v2, 2u),
    subgroupBroadcast(v2, 3u),
    subgroupBroadcast(v2, 4u),
    subgroupBroadcast(v2, 5u),
    subgroupBroadcast(v2, 6u),
    subgroupBroadcast(v2, 7u),
  );
}

fn step_of(v: f32, v2: f32, b: array<f32, LANE_N>) -> Step {
  return Step(share(v, v2), b, vec2<f32>(v, v2));
}

// forward's column j of the lane, in a block of output columns starting at n0: GROUP apart.
fn spread_column(n0: u32, lane: u32, j: u32) -> u32 {
  return n0 + lane + GROUP * j;
}

// grad_input's and grad_weight's column j of the lane, in a block starting at c0: GROUP apart, or
// with VEC4 the lane's LANE_N adjacent columns.
fn lane_column(c0: u32, lane: u32, j: u32) -> u32 {
  if (VEC4) { return c0 + LANE_N * lane + j; }
  return spread_column(c0, lane, j);
}

// How many of those columns lie inside [0, count).
fn lane_columns_inside(c0: u32, lane: u32, count: u32) -> u32 {
  if (VEC4) { return select(0u, min(LANE_N, count - c0 - LANE_N * lane), c0 + LANE_N * lane < count); }
  if (c0 + lane >= count) { return 0u; }
  return min(LANE_N, (count - c0 - lane + GROUP - 1u) / GROUP);
}

// Where the VEC4 kernels read a lane's 4 columns: the first, kept inside [0, count) (count % 4 == 0).
fn lane_quad(c0: u32, lane: u32, count: u32) -> u32 {
  return min(c0 + LANE_N * lane, count - LANE_N);
}

fn quad_values(v: vec4<f32>) -> array<f32, LANE_N> {
  return array<f32, LANE_N>(v.x, v.y, v.z, v.w);
}

// Four steps of the reduction, in order, each accumulator written once: llvmpipe masks every write
// of a loop-carried value with the execution mask (a blend), and once per four FMAs instead of
// once per FMA made the kernels 1.2× faster (study.mjs `sgu`).
fn accumulate4(acc: ptr<function, LaneTile>, s0: Step, s1: Step, s2: Step, s3: Step) {
  for (var i = 0u; i < BLOCK_M; i++) {
    for (var j = 0u; j < LANE_N; j++) {
      (*acc)[i][j] = fma(s3.a[i], s3.b[j], fma(s2.a[i], s2.b[j], fma(s1.a[i], s1.b[j], fma(s0.a[i], s0.b[j], (*acc)[i][j]))));
    }
  }
}

// The reduction's last (length mod 4) steps.
fn accumulate1(acc: ptr<function, LaneTile>, s: Step) {
  for (var i = 0u; i < BLOCK_M; i++) {
    for (var j = 0u; j < LANE_N; j++) { (*acc)[i][j] = fma(s.a[i], s.b[j], (*acc)[i][j]); }
  }
}

// Step k of forward: X at the lane's two rows (x_a, x_b: their starts), W at its columns' rows.
fn forward_step(x_a: u32, x_b: u32, w_row: array<u32, LANE_N>, k: u32) -> Step {
  var b: array<f32, LANE_N>;
  for (var j = 0u; j < LANE_N; j++) { b[j] = params[w_row[j] + k]; }
  return step_of(x[x_a + k], x[x_b + k], b);
}

// Step s (a constant) of four read as vec4s along k: the lane's two X rows and its W rows.
fn forward_quad_step(xa: vec4<f32>, xb: vec4<f32>, w: array<vec4<f32>, LANE_N>, s: u32) -> Step {
  var b: array<f32, LANE_N>;
  for (var j = 0u; j < LANE_N; j++) { b[j] = w[j][s]; }
  return step_of(xa[s], xb[s], b);
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
  for (var j = 0u; j < LANE_N; j++) { w_row[j] = dims.w_off + min(spread_column(n0, lane, j), dims.n - 1u) * dims.k; }
  var acc: LaneTile;
  if (VEC4) {
    for (var k = 0u; k < dims.k; k += 4u) {
      let xa = x4[(x_a + k) >> 2u];
      let xb = x4[(x_b + k) >> 2u];
      var w: array<vec4<f32>, LANE_N>;
      for (var j = 0u; j < LANE_N; j++) { w[j] = params4[(w_row[j] + k) >> 2u]; }
      accumulate4(&acc, forward_quad_step(xa, xb, w, 0u), forward_quad_step(xa, xb, w, 1u),
                  forward_quad_step(xa, xb, w, 2u), forward_quad_step(xa, xb, w, 3u));
    }
  } else {
    let full = dims.k & ~3u;
    for (var k = 0u; k < full; k += 4u) {
      accumulate4(&acc, forward_step(x_a, x_b, w_row, k), forward_step(x_a, x_b, w_row, k + 1u),
                  forward_step(x_a, x_b, w_row, k + 2u), forward_step(x_a, x_b, w_row, k + 3u));
    }
    for (var k = full; k < dims.k; k++) { accumulate1(&acc, forward_step(x_a, x_b, w_row, k)); }
  }
  // Constant loop bounds, guarded at the layer's edge: every index into the tile is a constant.
  for (var i = 0u; i < BLOCK_M; i++) {
    for (var j = 0u; j < LANE_N; j++) {
      let n = spread_column(n0, lane, j);
      if (m0 + i < dims.m && n < dims.n) { forward_store(m0 + i, n, acc[i][j]); }
    }
  }
}

// Step n of grad_input: dY at the lane's two rows, W's row n at the lane's columns (col: W[0, k];
// with VEC4 col[0] is where its 4 adjacent columns start).
fn grad_input_step(dy_a: u32, dy_b: u32, col: array<u32, LANE_N>, n: u32) -> Step {
  var b: array<f32, LANE_N>;
  if (VEC4) {
    b = quad_values(params4[(col[0] + n * dims.k) >> 2u]);
  } else {
    for (var j = 0u; j < LANE_N; j++) { b[j] = params[col[j] + n * dims.k]; }
  }
  return step_of(dy[dy_a + n], dy[dy_b + n], b);
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
  if (VEC4) { col[0] = dims.w_off + lane_quad(k0, lane, dims.k); }
  var acc: LaneTile;
  let full = dims.n & ~3u;
  for (var n = 0u; n < full; n += 4u) {
    accumulate4(&acc, grad_input_step(dy_a, dy_b, col, n), grad_input_step(dy_a, dy_b, col, n + 1u),
                grad_input_step(dy_a, dy_b, col, n + 2u), grad_input_step(dy_a, dy_b, col, n + 3u));
  }
  for (var n = full; n < dims.n; n++) { accumulate1(&acc, grad_input_step(dy_a, dy_b, col, n)); }
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
  db: vec2<f32>,
}

// Step m of grad_weight: dY's row m at the lane's two columns n (dy_a, dy_b), X's row m at its k
// (with VEC4 col[0] is where its 4 adjacent columns start).
fn grad_weight_step(dy_a: u32, dy_b: u32, col: array<u32, LANE_N>, m: u32) -> Step {
  var b: array<f32, LANE_N>;
  if (VEC4) {
    b = quad_values(x4[(m * dims.k + col[0]) >> 2u]);
  } else {
    for (var j = 0u; j < LANE_N; j++) { b[j] = x[m * dims.k + col[j]]; }
  }
  return step_of(dy[m * dims.n + dy_a], dy[m * dims.n + dy_b], b);
}

fn grad_weight_block(n0: u32, k0: u32, lane: u32) -> WeightBlock {
  let dy_a = min(n0 + lane, dims.n - 1u);
  let dy_b = min(n0 + GROUP + lane, dims.n - 1u);
  var col: array<u32, LANE_N>;
  for (var j = 0u; j < LANE_N; j++) { col[j] = min(lane_column(k0, lane, j), dims.k - 1u); }
  if (VEC4) { col[0] = lane_quad(k0, lane, dims.k); }
  var t: WeightBlock;
  let full = dims.m & ~3u;
  for (var m = 0u; m < full; m += 4u) {
    let s0 = grad_weight_step(dy_a, dy_b, col, m);
    let s1 = grad_weight_step(dy_a, dy_b, col, m + 1u);
    let s2 = grad_weight_step(dy_a, dy_b, col, m + 2u);
    let s3 = grad_weight_step(dy_a, dy_b, col, m + 3u);
    t.db = (((t.db + s0.own) + s1.own) + s2.own) + s3.own;
    accumulate4(&t.dw, s0, s1, s2, s3);
  }
  for (var m = full; m < dims.m; m++) {
    let s = grad_weight_step(dy_a, dy_b, col, m);
    t.db += s.own;
    accumulate1(&t.dw, s);
  }
  return t;
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
    if (n0 + lane < dims.n) { grads[dims.b_off + n0 + lane] = t.db.x; }
    if (n0 + GROUP + lane < dims.n) { grads[dims.b_off + n0 + GROUP + lane] = t.db.y; }
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
    let w_row = dims.w_off + (n0 + i) * dims.k;
    if (VEC4) {
      // the lane's 4 adjacent weights, their state and their new values one load or store each
      // (K % 4 == 0, so a lane's columns lie all inside the layer or all outside)
      if (cols == LANE_N) {
        let at = w_row + lane_quad(k0, lane, dims.k);
        update_quad(at, params4[at >> 2u], vec4(row[0], row[1], row[2], row[3]));
      }
    } else {
      for (var j = 0u; j < cols; j++) {
        update_at(w_row + lane_column(k0, lane, j), row[0]);
        for (var c = 0u; c + 1u < LANE_N; c++) { row[c] = row[c + 1u]; }
      }
    }
    for (var r = 0u; r + 1u < BLOCK_M; r++) { dw[r] = dw[r + 1u]; }
  }
  if (k0 == 0u) {
    // the lane's bias rows n0 + lane and n0 + GROUP + lane, as many as lie inside the layer
    let biases = select(0u, select(1u, 2u, n0 + GROUP + lane < dims.n), n0 + lane < dims.n);
    var db = t.db;
    for (var h = 0u; h < biases; h++) {
      update_at(dims.b_off + n0 + lane + GROUP * h, db.x);
      db.x = db.y;
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
