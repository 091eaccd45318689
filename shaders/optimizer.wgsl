// The optimizer's update over the model's whole flat parameter buffer, in one dispatch, for the
// unfused step (the fused one updates inside the weight-gradient kernels). The rule itself is
// lib/optimizer_update.wgsl's, shared with those kernels; the Hyper struct is records.ts's.
// params, grads, velocity: (COUNT) f32, same layout.

override COUNT: u32;
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(3) var<uniform> hyper: Hyper;

// dispatch: (⌈COUNT / WG⌉, 1, 1), split over y beyond 65,535 groups
@compute @workgroup_size(WG)
fn step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= COUNT) { return; }
  params[i] = update_param(i, params[i], grads[i]);
}
