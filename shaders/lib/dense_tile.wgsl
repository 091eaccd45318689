// Register tiles of TILE_M × TILE_N outputs, for the dense kernels that compute in tiles
// (dense_tiles.wgsl, dense_split.wgsl): each partial sum runs over one range of the reduction.
// The including file declares the tile's size (`const TILE_M: u32`, `const TILE_N: u32`).

alias Tile = array<array<f32, TILE_N>, TILE_M>;

// Σ_{k ∈ [k_begin, k_end)} X[m0 + i, k] · W[n0 + j, k] for the tile's i < TILE_M, j < TILE_N.
fn forward_partial(m0: u32, n0: u32, k_begin: u32, k_end: u32) -> Tile {
  var x_row: array<u32, TILE_M>;
  var w_row: array<u32, TILE_N>;
  for (var i = 0u; i < TILE_M; i++) { x_row[i] = min(m0 + i, dims.m - 1u) * dims.k; }
  for (var j = 0u; j < TILE_N; j++) { w_row[j] = dims.w_off + min(n0 + j, dims.n - 1u) * dims.k; }
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

// Σ_{n ∈ [n_begin, n_end)} dY[m0 + i, n] · W[n, k0 + j]: a tile of dX before the mask.
fn grad_input_partial(m0: u32, k0: u32, n_begin: u32, n_end: u32) -> Tile {
  var dy_row: array<u32, TILE_M>;
  var col: array<u32, TILE_N>;
  for (var i = 0u; i < TILE_M; i++) { dy_row[i] = min(m0 + i, dims.m - 1u) * dims.n; }
  for (var j = 0u; j < TILE_N; j++) { col[j] = dims.w_off + min(k0 + j, dims.k - 1u); }
  var acc: Tile;
  for (var n = n_begin; n < n_end; n++) {
    var a: array<f32, TILE_M>;
    var b: array<f32, TILE_N>;
    for (var i = 0u; i < TILE_M; i++) { a[i] = dy[dy_row[i] + n]; }
    for (var j = 0u; j < TILE_N; j++) { b[j] = params[col[j] + n * dims.k]; }
    for (var i = 0u; i < TILE_M; i++) {
      for (var j = 0u; j < TILE_N; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
    }
  }
  return acc;
}
