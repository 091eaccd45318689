// ReLU on its own, elementwise over COUNT f32 values. The training step fuses ReLU into the matmul
// epilogue (forward) and into dX (backward); these kernels are the unfused forms.
//   relu_forward:  y = max(x, 0)
//   relu_backward: dx = dy · 1[x > 0]   (PyTorch's threshold_backward: zero gradient at x = 0)

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
  y[i] = max(x[i], 0.0);
}

@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(gid, groups);
  if (i >= COUNT) { return; }
  dx[i] = select(0.0, dy[i], x[i] > 0.0);
}
