// ReLU on its own, elementwise over COUNT f32 values. The training step fuses ReLU into the matmul
// epilogue (forward) and into dX (backward); these kernels are the unfused forms.
//   relu_forward:  y = x < 0 ? 0 : x   (PyTorch's relu: NaN stays NaN; WGSL's max(NaN, 0) may be 0)
//   relu_backward: dx = x <= 0 ? 0 : dy (PyTorch's threshold_backward: zero gradient at x = 0, NaN x passes dy)

override COUNT: u32;
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

// dispatch: (⌈COUNT / WG⌉, 1, 1), split over y beyond 65,535 groups
@compute @workgroup_size(WG)
fn relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(gid, groups);
  if (i >= COUNT) { return; }
  let v = x[i];
  y[i] = select(v, 0.0, v < 0.0);
}

@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(gid, groups);
  if (i >= COUNT) { return; }
  dx[i] = select(dy[i], 0.0, x[i] <= 0.0);
}
