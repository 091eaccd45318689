// Dense layer kernels, split-reduction variant, for GPUs at small batch sizes. Same entry points,
// bindings and results as dense_tiles.wgsl; layouts, overrides and bindings: lib/dense_common.wgsl;
// tiles: lib/dense_tile.wgsl.
//
// At batch 64 the tiled kernels launch few invocations (2,048 for the first layer's forward), each
// with a long serial loop (784 steps): most of a large GPU idles while each invocation waits on its
// own chain of loads. Here a workgroup is (WG_X, WG_Y, SPLIT): every z-slice computes the same
// block of BLOCK_ROWS × BLOCK_COLS outputs over its own 1/SPLIT of the reduction, the partial
// tiles meet in workgroup memory, and after one barrier each invocation sums and stores some of
// the block. The weight gradient reduces over the batch; its bias gradient is column K of the same
// block, where X reads as 1, so db needs no reduction of its own.
// Grids: x = ⌈columns / BLOCK_COLS⌉ with columns N for forward, K for grad_input and K + 1 for
// the weight kernels; y = ⌈rows / BLOCK_ROWS⌉ (backward_fused: weight blocks, then dX).
// No invocation returns early: every one must reach the barrier.

// 4 × 4 tiles: SPLIT partial blocks of them must fit the 16 KiB of workgroup memory.
const TILE_M: u32 = 4u;
const TILE_N: u32 = 4u;

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
  for (var i = 0u; i < TILE_M; i++) { dy_col[i] = min(n0 + i, dims.n - 1u); }
  for (var j = 0u; j < TILE_N; j++) { x_col[j] = min(k0 + j, dims.k - 1u); }
  var acc: Tile;
  for (var m = m_begin; m < m_end; m++) {
    var a: array<f32, TILE_M>;
    var b: array<f32, TILE_N>;
    for (var i = 0u; i < TILE_M; i++) { a[i] = dy[m * dims.n + dy_col[i]]; }
    for (var j = 0u; j < TILE_N; j++) { b[j] = select(x[m * dims.k + x_col[j]], 1.0, k0 + j >= dims.k); }
    for (var i = 0u; i < TILE_M; i++) {
      for (var j = 0u; j < TILE_N; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
    }
  }
  return acc;
}

// The block's weight gradient (K + 1 columns, the last being db) reduced over the batch; the
// caller finishes element `e` of the block after the barrier.
fn weight_block(block: vec2<u32>, lid: vec3<u32>) {
  let r = split_range(lid.z, dims.m);
  split_store(lid, weight_partial(block.y * BLOCK_ROWS + lid.y * TILE_M, block.x * BLOCK_COLS + lid.x * TILE_N, r.x, r.y));
}

fn update_weight_block(block: vec2<u32>, lid: vec3<u32>, li: u32) {
  weight_block(block, lid);
  workgroupBarrier();
  for (var e = li; e < BLOCK_ROWS * BLOCK_COLS; e += WG_X * WG_Y * SPLIT) {
    let n = block.y * BLOCK_ROWS + e / BLOCK_COLS;
    let k = block.x * BLOCK_COLS + e % BLOCK_COLS;
    if (n < dims.n && k < dims.k) { update_at(dims.w_off + n * dims.k + k, split_sum(e)); }
    if (n < dims.n && k == dims.k) { update_at(dims.b_off + n, split_sum(e)); }
  }
}

fn grad_input_block(block: vec2<u32>, lid: vec3<u32>, li: u32) {
  let r = split_range(lid.z, dims.n);
  split_store(lid, grad_input_partial(block.y * BLOCK_ROWS + lid.y * TILE_M, block.x * BLOCK_COLS + lid.x * TILE_N, r.x, r.y));
  workgroupBarrier();
  for (var e = li; e < BLOCK_ROWS * BLOCK_COLS; e += WG_X * WG_Y * SPLIT) {
    let m = block.y * BLOCK_ROWS + e / BLOCK_COLS;
    let k = block.x * BLOCK_COLS + e % BLOCK_COLS;
    if (m < dims.m && k < dims.k) { grad_input_store(m, k, split_sum(e)); }
  }
}

@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * BLOCK_ROWS;
  let n0 = wid.x * BLOCK_COLS;
  let r = split_range(lid.z, dims.k);
  split_store(lid, forward_partial(m0 + lid.y * TILE_M, n0 + lid.x * TILE_N, r.x, r.y));
  workgroupBarrier();
  for (var e = li; e < BLOCK_ROWS * BLOCK_COLS; e += WG_X * WG_Y * SPLIT) {
    let m = m0 + e / BLOCK_COLS;
    let n = n0 + e % BLOCK_COLS;
    if (m < dims.m && n < dims.n) { forward_store(m, n, split_sum(e)); }
  }
}

@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn grad_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  grad_input_block(wid.xy, lid, li);
}

@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn grad_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  weight_block(wid.xy, lid);
  workgroupBarrier();
  for (var e = li; e < BLOCK_ROWS * BLOCK_COLS; e += WG_X * WG_Y * SPLIT) {
    let n = wid.y * BLOCK_ROWS + e / BLOCK_COLS;
    let k = wid.x * BLOCK_COLS + e % BLOCK_COLS;
    if (n < dims.n && k < dims.k) { grads[dims.w_off + n * dims.k + k] = split_sum(e); }
    if (n < dims.n && k == dims.k) { grads[dims.b_off + n] = split_sum(e); }
  }
}

@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn grad_weight_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                      @builtin(local_invocation_index) li: u32) {
  update_weight_block(wid.xy, lid, li);
}

// As dense_tiles.wgsl's backward_fused: the first ⌈N / BLOCK_ROWS⌉ rows of workgroups update W and
// b, the rest compute dX; the branch is on workgroup_id, so each side's barrier stays in uniform
// control flow.
@compute @workgroup_size(WG_X, WG_Y, SPLIT)
fn backward_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
  let weight_rows = (dims.n + BLOCK_ROWS - 1u) / BLOCK_ROWS;
  if (wid.y < weight_rows) {
    update_weight_block(wid.xy, lid, li);
  } else {
    grad_input_block(vec2(wid.x, wid.y - weight_rows), lid, li);
  }
}
