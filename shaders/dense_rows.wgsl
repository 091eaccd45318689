// Dense layer kernels, row-block variant, for software adapters (SwiftShader). Same entry points,
// bindings and results as dense_tiles.wgsl; layouts, overrides and bindings: lib/dense_common.wgsl.
//
// There a workgroup runs as loops over SIMD lanes, a load whose address differs per lane is a
// gather, and a load whose address is the same for every lane is one scalar load and a broadcast.
// So each lane owns one output column and the workgroup a block of ROW_BLOCK rows taken from
// workgroup_id alone: every inner step is one gather and ROW_BLOCK broadcast loads feeding
// ROW_BLOCK FMAs (the 4×4 tiles make it 8 gathers for 16 FMAs).
// Grids: x = ⌈columns / WG_X⌉ with columns N for forward and K otherwise; y = ⌈rows / ROW_BLOCK⌉.

const ROW_BLOCK: u32 = 16u;

@compute @workgroup_size(WG_X)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x * WG_X + lid.x;
  let m0 = wid.y * ROW_BLOCK;
  let w_row = dims.w_off + min(n, dims.n - 1u) * dims.k;
  var acc: array<f32, ROW_BLOCK>;
  for (var k = 0u; k < dims.k; k++) {
    let w = params[w_row + k];
    for (var i = 0u; i < ROW_BLOCK; i++) { acc[i] = fma(x[min(m0 + i, dims.m - 1u) * dims.k + k], w, acc[i]); }
  }
  if (n >= dims.n) { return; }
  let bias = params[dims.b_off + n];
  for (var i = 0u; i < ROW_BLOCK; i++) {
    let m = m0 + i;
    if (m >= dims.m) { break; }
    var v = acc[i] + bias;
    if (RELU) { v = relu(v); }
    y[m * dims.n + n] = v;
  }
}

fn grad_input_block(m0: u32, k: u32) {
  let col = dims.w_off + min(k, dims.k - 1u);
  var acc: array<f32, ROW_BLOCK>;
  for (var n = 0u; n < dims.n; n++) {
    let w = params[col + n * dims.k];
    for (var i = 0u; i < ROW_BLOCK; i++) { acc[i] = fma(dy[min(m0 + i, dims.m - 1u) * dims.n + n], w, acc[i]); }
  }
  if (k >= dims.k) { return; }
  for (var i = 0u; i < ROW_BLOCK; i++) {
    let m = m0 + i;
    if (m >= dims.m) { break; }
    grad_input_store(m, k, acc[i]);
  }
}

struct WeightRows {
  dw: array<f32, ROW_BLOCK>,
  db: array<f32, ROW_BLOCK>,
}

// dW[n0 + i, k] and db[n0 + i] for i < ROW_BLOCK.
fn grad_weight_block(n0: u32, k: u32) -> WeightRows {
  let x_col = min(k, dims.k - 1u);
  var t: WeightRows;
  for (var m = 0u; m < dims.m; m++) {
    let xv = x[m * dims.k + x_col];
    for (var i = 0u; i < ROW_BLOCK; i++) {
      let g = dy[m * dims.n + min(n0 + i, dims.n - 1u)];
      t.dw[i] = fma(g, xv, t.dw[i]);
      t.db[i] += g;
    }
  }
  return t;
}

// Bounded by the block's edge, known only at run time, so the compiler keeps one copy of the
// optimizer's rule rather than unrolling ROW_BLOCK of them (as dense_tiles.wgsl's update_weight_tile).
fn update_weight_block(n0: u32, k: u32) {
  let t = grad_weight_block(n0, k);
  if (k >= dims.k || n0 >= dims.n) { return; }
  let rows = min(ROW_BLOCK, dims.n - n0);
  for (var i = 0u; i < rows; i++) {
    let n = n0 + i;
    update_at(dims.w_off + n * dims.k + k, t.dw[i]);
    if (k == 0u) { update_at(dims.b_off + n, t.db[i]); }
  }
}

@compute @workgroup_size(WG_X)
fn grad_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  grad_input_block(wid.y * ROW_BLOCK, wid.x * WG_X + lid.x);
}

@compute @workgroup_size(WG_X)
fn grad_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = wid.y * ROW_BLOCK;
  let k = wid.x * WG_X + lid.x;
  let t = grad_weight_block(n0, k);
  if (k >= dims.k) { return; }
  for (var i = 0u; i < ROW_BLOCK; i++) {
    let n = n0 + i;
    if (n >= dims.n) { break; }
    grads[dims.w_off + n * dims.k + k] = t.dw[i];
    if (k == 0u) { grads[dims.b_off + n] = t.db[i]; }
  }
}

@compute @workgroup_size(WG_X)
fn grad_weight_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  update_weight_block(wid.y * ROW_BLOCK, wid.x * WG_X + lid.x);
}

// grid: (⌈K / WG_X⌉, ⌈N / ROW_BLOCK⌉ + ⌈M / ROW_BLOCK⌉); as dense_tiles.wgsl's, ping-pong params.
@compute @workgroup_size(WG_X)
fn backward_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let weight_blocks = (dims.n + ROW_BLOCK - 1u) / ROW_BLOCK;
  let k = wid.x * WG_X + lid.x;
  if (wid.y < weight_blocks) {
    update_weight_block(wid.y * ROW_BLOCK, k);
  } else {
    grad_input_block((wid.y - weight_blocks) * ROW_BLOCK, k);
  }
}
