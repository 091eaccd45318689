// Dense layer kernels, row-block variant, for software adapters (SwiftShader). Same entry points,
// bindings and results as dense_tiles.wgsl; layouts, overrides and bindings: lib/dense_common.wgsl.
//
// SwiftShader runs a workgroup as loops over 4-wide SIMD lanes, and an index known only at run time
// makes a load a gather; so does every access to a private array indexed by a loop counter, which it
// keeps in memory (it does not unroll loops). A kernel there costs about its gathers. Hence:
//   - each workgroup owns ROW_BLOCK rows of the output, taken from workgroup_id alone, and each lane
//     LANE_COLS columns WG_X apart: an inner step is LANE_COLS + ROW_BLOCK loads for
//     ROW_BLOCK·LANE_COLS FMAs (the previous form, one column a lane, was 1 + 16 loads for 16);
//   - the accumulators are ROW_BLOCK named vec4 variables, one row's LANE_COLS columns each, never
//     an array: every index is a constant.
// Measured on SwiftShader (bench/cpu-study/study.mjs `lane` shapes, bench/RESULTS.md 2026-12-02
// third session): 16 rows × 4 columns in workgroups of 16 ran the seed's GEMMs 2–10× faster than
// the array-indexed forms. On lavapipe (which unrolls and keeps arrays in registers) the register
// tiles stay faster; this variant is checked there all the same.
// Grids: x = ⌈columns / (WG_X·LANE_COLS)⌉ with columns N for forward and K otherwise;
// y = ⌈rows / ROW_BLOCK⌉.

// Both are written out below, not only read: 16 named accumulators a0..a15 (and g0..g15, r0..r15),
// and a lane's columns as one vec4. src/kernels/dense.ts reads them for the grids.
const ROW_BLOCK: u32 = 16u;
const LANE_COLS: u32 = 4u;

// The lane's LANE_COLS columns, and the same clamped into [0, count) for loads.
fn lane_columns(wid_x: u32, lid_x: u32) -> vec4<u32> {
  return vec4<u32>(wid_x * WG_X * LANE_COLS + lid_x) + vec4<u32>(0u, 1u, 2u, 3u) * WG_X;
}

fn clamp_columns(c: vec4<u32>, count: u32) -> vec4<u32> {
  return min(c, vec4<u32>(count - 1u));
}

// Y[m, n] = Σ_k X[m, k] · W[n, k] + b[n] for rows m0 .. m0 + ROW_BLOCK, the lane's columns n.
@compute @workgroup_size(WG_X)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wid.y * ROW_BLOCK;
  let n = lane_columns(wid.x, lid.x);
  let w = vec4<u32>(dims.w_off) + clamp_columns(n, dims.n) * dims.k;
  let last = dims.m - 1u;
  let x0 = min(m0 + 0u, last) * dims.k;
  let x1 = min(m0 + 1u, last) * dims.k;
  let x2 = min(m0 + 2u, last) * dims.k;
  let x3 = min(m0 + 3u, last) * dims.k;
  let x4 = min(m0 + 4u, last) * dims.k;
  let x5 = min(m0 + 5u, last) * dims.k;
  let x6 = min(m0 + 6u, last) * dims.k;
  let x7 = min(m0 + 7u, last) * dims.k;
  let x8 = min(m0 + 8u, last) * dims.k;
  let x9 = min(m0 + 9u, last) * dims.k;
  let x10 = min(m0 + 10u, last) * dims.k;
  let x11 = min(m0 + 11u, last) * dims.k;
  let x12 = min(m0 + 12u, last) * dims.k;
  let x13 = min(m0 + 13u, last) * dims.k;
  let x14 = min(m0 + 14u, last) * dims.k;
  let x15 = min(m0 + 15u, last) * dims.k;
  var a0 = vec4<f32>();
  var a1 = vec4<f32>();
  var a2 = vec4<f32>();
  var a3 = vec4<f32>();
  var a4 = vec4<f32>();
  var a5 = vec4<f32>();
  var a6 = vec4<f32>();
  var a7 = vec4<f32>();
  var a8 = vec4<f32>();
  var a9 = vec4<f32>();
  var a10 = vec4<f32>();
  var a11 = vec4<f32>();
  var a12 = vec4<f32>();
  var a13 = vec4<f32>();
  var a14 = vec4<f32>();
  var a15 = vec4<f32>();
  for (var k = 0u; k < dims.k; k++) {
    let wv = vec4<f32>(params[w.x + k], params[w.y + k], params[w.z + k], params[w.w + k]);
    a0 = fma(vec4<f32>(x[x0 + k]), wv, a0);
    a1 = fma(vec4<f32>(x[x1 + k]), wv, a1);
    a2 = fma(vec4<f32>(x[x2 + k]), wv, a2);
    a3 = fma(vec4<f32>(x[x3 + k]), wv, a3);
    a4 = fma(vec4<f32>(x[x4 + k]), wv, a4);
    a5 = fma(vec4<f32>(x[x5 + k]), wv, a5);
    a6 = fma(vec4<f32>(x[x6 + k]), wv, a6);
    a7 = fma(vec4<f32>(x[x7 + k]), wv, a7);
    a8 = fma(vec4<f32>(x[x8 + k]), wv, a8);
    a9 = fma(vec4<f32>(x[x9 + k]), wv, a9);
    a10 = fma(vec4<f32>(x[x10 + k]), wv, a10);
    a11 = fma(vec4<f32>(x[x11 + k]), wv, a11);
    a12 = fma(vec4<f32>(x[x12 + k]), wv, a12);
    a13 = fma(vec4<f32>(x[x13 + k]), wv, a13);
    a14 = fma(vec4<f32>(x[x14 + k]), wv, a14);
    a15 = fma(vec4<f32>(x[x15 + k]), wv, a15);
  }
  forward_row(m0 + 0u, n, a0);
  forward_row(m0 + 1u, n, a1);
  forward_row(m0 + 2u, n, a2);
  forward_row(m0 + 3u, n, a3);
  forward_row(m0 + 4u, n, a4);
  forward_row(m0 + 5u, n, a5);
  forward_row(m0 + 6u, n, a6);
  forward_row(m0 + 7u, n, a7);
  forward_row(m0 + 8u, n, a8);
  forward_row(m0 + 9u, n, a9);
  forward_row(m0 + 10u, n, a10);
  forward_row(m0 + 11u, n, a11);
  forward_row(m0 + 12u, n, a12);
  forward_row(m0 + 13u, n, a13);
  forward_row(m0 + 14u, n, a14);
  forward_row(m0 + 15u, n, a15);
}

fn forward_row(m: u32, n: vec4<u32>, v: vec4<f32>) {
  if (m >= dims.m) { return; }
  if (n.x < dims.n) { forward_store(m, n.x, v.x); }
  if (n.y < dims.n) { forward_store(m, n.y, v.y); }
  if (n.z < dims.n) { forward_store(m, n.z, v.z); }
  if (n.w < dims.n) { forward_store(m, n.w, v.w); }
}

// dX[m, k] = Σ_n dY[m, n] · W[n, k] for rows m0 .., the lane's columns k (mask: grad_input_store).
fn grad_input_block(m0: u32, k: vec4<u32>) {
  let col = vec4<u32>(dims.w_off) + clamp_columns(k, dims.k);
  let last = dims.m - 1u;
  let d0 = min(m0 + 0u, last) * dims.n;
  let d1 = min(m0 + 1u, last) * dims.n;
  let d2 = min(m0 + 2u, last) * dims.n;
  let d3 = min(m0 + 3u, last) * dims.n;
  let d4 = min(m0 + 4u, last) * dims.n;
  let d5 = min(m0 + 5u, last) * dims.n;
  let d6 = min(m0 + 6u, last) * dims.n;
  let d7 = min(m0 + 7u, last) * dims.n;
  let d8 = min(m0 + 8u, last) * dims.n;
  let d9 = min(m0 + 9u, last) * dims.n;
  let d10 = min(m0 + 10u, last) * dims.n;
  let d11 = min(m0 + 11u, last) * dims.n;
  let d12 = min(m0 + 12u, last) * dims.n;
  let d13 = min(m0 + 13u, last) * dims.n;
  let d14 = min(m0 + 14u, last) * dims.n;
  let d15 = min(m0 + 15u, last) * dims.n;
  var a0 = vec4<f32>();
  var a1 = vec4<f32>();
  var a2 = vec4<f32>();
  var a3 = vec4<f32>();
  var a4 = vec4<f32>();
  var a5 = vec4<f32>();
  var a6 = vec4<f32>();
  var a7 = vec4<f32>();
  var a8 = vec4<f32>();
  var a9 = vec4<f32>();
  var a10 = vec4<f32>();
  var a11 = vec4<f32>();
  var a12 = vec4<f32>();
  var a13 = vec4<f32>();
  var a14 = vec4<f32>();
  var a15 = vec4<f32>();
  for (var n = 0u; n < dims.n; n++) {
    let at = col + vec4<u32>(n * dims.k);
    let wv = vec4<f32>(params[at.x], params[at.y], params[at.z], params[at.w]);
    a0 = fma(vec4<f32>(dy[d0 + n]), wv, a0);
    a1 = fma(vec4<f32>(dy[d1 + n]), wv, a1);
    a2 = fma(vec4<f32>(dy[d2 + n]), wv, a2);
    a3 = fma(vec4<f32>(dy[d3 + n]), wv, a3);
    a4 = fma(vec4<f32>(dy[d4 + n]), wv, a4);
    a5 = fma(vec4<f32>(dy[d5 + n]), wv, a5);
    a6 = fma(vec4<f32>(dy[d6 + n]), wv, a6);
    a7 = fma(vec4<f32>(dy[d7 + n]), wv, a7);
    a8 = fma(vec4<f32>(dy[d8 + n]), wv, a8);
    a9 = fma(vec4<f32>(dy[d9 + n]), wv, a9);
    a10 = fma(vec4<f32>(dy[d10 + n]), wv, a10);
    a11 = fma(vec4<f32>(dy[d11 + n]), wv, a11);
    a12 = fma(vec4<f32>(dy[d12 + n]), wv, a12);
    a13 = fma(vec4<f32>(dy[d13 + n]), wv, a13);
    a14 = fma(vec4<f32>(dy[d14 + n]), wv, a14);
    a15 = fma(vec4<f32>(dy[d15 + n]), wv, a15);
  }
  grad_input_row(m0 + 0u, k, a0);
  grad_input_row(m0 + 1u, k, a1);
  grad_input_row(m0 + 2u, k, a2);
  grad_input_row(m0 + 3u, k, a3);
  grad_input_row(m0 + 4u, k, a4);
  grad_input_row(m0 + 5u, k, a5);
  grad_input_row(m0 + 6u, k, a6);
  grad_input_row(m0 + 7u, k, a7);
  grad_input_row(m0 + 8u, k, a8);
  grad_input_row(m0 + 9u, k, a9);
  grad_input_row(m0 + 10u, k, a10);
  grad_input_row(m0 + 11u, k, a11);
  grad_input_row(m0 + 12u, k, a12);
  grad_input_row(m0 + 13u, k, a13);
  grad_input_row(m0 + 14u, k, a14);
  grad_input_row(m0 + 15u, k, a15);
}

fn grad_input_row(m: u32, k: vec4<u32>, v: vec4<f32>) {
  if (m >= dims.m) { return; }
  if (k.x < dims.k) { grad_input_store(m, k.x, v.x); }
  if (k.y < dims.k) { grad_input_store(m, k.y, v.y); }
  if (k.z < dims.k) { grad_input_store(m, k.z, v.z); }
  if (k.w < dims.k) { grad_input_store(m, k.w, v.w); }
}

// dW[n0 + i, k] for the lane's columns k (row i's in `r<i>`), and db[n0 + i] (in `db<i / 4>`,
// four rows a vec4: every lane sums them, the one holding column 0 stores them).
struct WeightRows {
  r0: vec4<f32>,
  r1: vec4<f32>,
  r2: vec4<f32>,
  r3: vec4<f32>,
  r4: vec4<f32>,
  r5: vec4<f32>,
  r6: vec4<f32>,
  r7: vec4<f32>,
  r8: vec4<f32>,
  r9: vec4<f32>,
  r10: vec4<f32>,
  r11: vec4<f32>,
  r12: vec4<f32>,
  r13: vec4<f32>,
  r14: vec4<f32>,
  r15: vec4<f32>,
  db0: vec4<f32>,
  db1: vec4<f32>,
  db2: vec4<f32>,
  db3: vec4<f32>,
}

fn grad_weight_block(n0: u32, k: vec4<u32>) -> WeightRows {
  let x_col = clamp_columns(k, dims.k);
  let last = dims.n - 1u;
  let c0 = min(n0 + 0u, last);
  let c1 = min(n0 + 1u, last);
  let c2 = min(n0 + 2u, last);
  let c3 = min(n0 + 3u, last);
  let c4 = min(n0 + 4u, last);
  let c5 = min(n0 + 5u, last);
  let c6 = min(n0 + 6u, last);
  let c7 = min(n0 + 7u, last);
  let c8 = min(n0 + 8u, last);
  let c9 = min(n0 + 9u, last);
  let c10 = min(n0 + 10u, last);
  let c11 = min(n0 + 11u, last);
  let c12 = min(n0 + 12u, last);
  let c13 = min(n0 + 13u, last);
  let c14 = min(n0 + 14u, last);
  let c15 = min(n0 + 15u, last);
  var a0 = vec4<f32>();
  var a1 = vec4<f32>();
  var a2 = vec4<f32>();
  var a3 = vec4<f32>();
  var a4 = vec4<f32>();
  var a5 = vec4<f32>();
  var a6 = vec4<f32>();
  var a7 = vec4<f32>();
  var a8 = vec4<f32>();
  var a9 = vec4<f32>();
  var a10 = vec4<f32>();
  var a11 = vec4<f32>();
  var a12 = vec4<f32>();
  var a13 = vec4<f32>();
  var a14 = vec4<f32>();
  var a15 = vec4<f32>();
  var db0 = vec4<f32>();
  var db1 = vec4<f32>();
  var db2 = vec4<f32>();
  var db3 = vec4<f32>();
  for (var m = 0u; m < dims.m; m++) {
    let xr = m * dims.k;
    let xv = vec4<f32>(x[xr + x_col.x], x[xr + x_col.y], x[xr + x_col.z], x[xr + x_col.w]);
    let dr = m * dims.n;
    let g0 = dy[dr + c0];
    let g1 = dy[dr + c1];
    let g2 = dy[dr + c2];
    let g3 = dy[dr + c3];
    let g4 = dy[dr + c4];
    let g5 = dy[dr + c5];
    let g6 = dy[dr + c6];
    let g7 = dy[dr + c7];
    let g8 = dy[dr + c8];
    let g9 = dy[dr + c9];
    let g10 = dy[dr + c10];
    let g11 = dy[dr + c11];
    let g12 = dy[dr + c12];
    let g13 = dy[dr + c13];
    let g14 = dy[dr + c14];
    let g15 = dy[dr + c15];
    a0 = fma(vec4<f32>(g0), xv, a0);
    a1 = fma(vec4<f32>(g1), xv, a1);
    a2 = fma(vec4<f32>(g2), xv, a2);
    a3 = fma(vec4<f32>(g3), xv, a3);
    a4 = fma(vec4<f32>(g4), xv, a4);
    a5 = fma(vec4<f32>(g5), xv, a5);
    a6 = fma(vec4<f32>(g6), xv, a6);
    a7 = fma(vec4<f32>(g7), xv, a7);
    a8 = fma(vec4<f32>(g8), xv, a8);
    a9 = fma(vec4<f32>(g9), xv, a9);
    a10 = fma(vec4<f32>(g10), xv, a10);
    a11 = fma(vec4<f32>(g11), xv, a11);
    a12 = fma(vec4<f32>(g12), xv, a12);
    a13 = fma(vec4<f32>(g13), xv, a13);
    a14 = fma(vec4<f32>(g14), xv, a14);
    a15 = fma(vec4<f32>(g15), xv, a15);
    db0 += vec4<f32>(g0, g1, g2, g3);
    db1 += vec4<f32>(g4, g5, g6, g7);
    db2 += vec4<f32>(g8, g9, g10, g11);
    db3 += vec4<f32>(g12, g13, g14, g15);
  }
  return WeightRows(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, db0, db1, db2, db3);
}

@compute @workgroup_size(WG_X)
fn grad_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = wid.y * ROW_BLOCK;
  let k = lane_columns(wid.x, lid.x);
  let t = grad_weight_block(n0, k);
  grad_weight_row(n0 + 0u, k, t.r0, t.db0.x);
  grad_weight_row(n0 + 1u, k, t.r1, t.db0.y);
  grad_weight_row(n0 + 2u, k, t.r2, t.db0.z);
  grad_weight_row(n0 + 3u, k, t.r3, t.db0.w);
  grad_weight_row(n0 + 4u, k, t.r4, t.db1.x);
  grad_weight_row(n0 + 5u, k, t.r5, t.db1.y);
  grad_weight_row(n0 + 6u, k, t.r6, t.db1.z);
  grad_weight_row(n0 + 7u, k, t.r7, t.db1.w);
  grad_weight_row(n0 + 8u, k, t.r8, t.db2.x);
  grad_weight_row(n0 + 9u, k, t.r9, t.db2.y);
  grad_weight_row(n0 + 10u, k, t.r10, t.db2.z);
  grad_weight_row(n0 + 11u, k, t.r11, t.db2.w);
  grad_weight_row(n0 + 12u, k, t.r12, t.db3.x);
  grad_weight_row(n0 + 13u, k, t.r13, t.db3.y);
  grad_weight_row(n0 + 14u, k, t.r14, t.db3.z);
  grad_weight_row(n0 + 15u, k, t.r15, t.db3.w);
}

fn grad_weight_row(n: u32, k: vec4<u32>, dw: vec4<f32>, db: f32) {
  if (n >= dims.n) { return; }
  let row = dims.w_off + n * dims.k;
  if (k.x < dims.k) { grads[row + k.x] = dw.x; }
  if (k.y < dims.k) { grads[row + k.y] = dw.y; }
  if (k.z < dims.k) { grads[row + k.z] = dw.z; }
  if (k.w < dims.k) { grads[row + k.w] = dw.w; }
  if (k.x == 0u) { grads[dims.b_off + n] = db; }
}

// The update runs in a loop over the block's rows and columns, bounded by the layer's edge, so the
// compilers keep one copy of the optimizer's rule (the tiles' reason, dense_tiles.wgsl). No index
// into the block is a run-time value: each pass updates row r0's first column, then shifts the
// columns (a swizzle) and, after a row, the rows down by one (register moves).
fn update_weight_block(n0: u32, k: vec4<u32>) {
  let t = grad_weight_block(n0, k);
  if (n0 >= dims.n || k.x >= dims.k) { return; }
  let rows = min(ROW_BLOCK, dims.n - n0);
  // the lane's columns ascend, so those inside the layer come first
  let cols = dot(select(vec4<u32>(0u), vec4<u32>(1u), k < vec4<u32>(dims.k)), vec4<u32>(1u));
  var r0 = t.r0;
  var r1 = t.r1;
  var r2 = t.r2;
  var r3 = t.r3;
  var r4 = t.r4;
  var r5 = t.r5;
  var r6 = t.r6;
  var r7 = t.r7;
  var r8 = t.r8;
  var r9 = t.r9;
  var r10 = t.r10;
  var r11 = t.r11;
  var r12 = t.r12;
  var r13 = t.r13;
  var r14 = t.r14;
  var r15 = t.r15;
  var b = t.db0;
  var b1 = t.db1;
  var b2 = t.db2;
  var b3 = t.db3;
  for (var i = 0u; i < rows; i++) {
    let n = n0 + i;
    var row = r0;
    var col = k;
    for (var j = 0u; j < cols; j++) {
      update_at(dims.w_off + n * dims.k + col.x, row.x);
      row = row.yzwx;
      col = col.yzwx;
    }
    if (k.x == 0u) { update_at(dims.b_off + n, b.x); }
    b = b.yzwx;
    if (i % 4u == 3u) {
      b = b1;
      b1 = b2;
      b2 = b3;
    }
    r0 = r1;
    r1 = r2;
    r2 = r3;
    r3 = r4;
    r4 = r5;
    r5 = r6;
    r6 = r7;
    r7 = r8;
    r8 = r9;
    r9 = r10;
    r10 = r11;
    r11 = r12;
    r12 = r13;
    r13 = r14;
    r14 = r15;
  }
}

@compute @workgroup_size(WG_X)
fn grad_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  grad_input_block(wid.y * ROW_BLOCK, lane_columns(wid.x, lid.x));
}

@compute @workgroup_size(WG_X)
fn grad_weight_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  update_weight_block(wid.y * ROW_BLOCK, lane_columns(wid.x, lid.x));
}

// grid: (⌈K / (WG_X·LANE_COLS)⌉, ⌈N / ROW_BLOCK⌉ + ⌈M / ROW_BLOCK⌉); as dense_tiles.wgsl's,
// ping-pong params.
@compute @workgroup_size(WG_X)
fn backward_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let weight_blocks = (dims.n + ROW_BLOCK - 1u) / ROW_BLOCK;
  let k = lane_columns(wid.x, lid.x);
  if (wid.y < weight_blocks) {
    update_weight_block(wid.y * ROW_BLOCK, k);
  } else {
    grad_input_block((wid.y - weight_blocks) * ROW_BLOCK, k);
  }
}
