// The optimizer's update over the model's whole flat parameter buffer, in one dispatch, for the
// unfused step (the fused one updates inside the weight-gradient kernels). The rule itself is
// lib/optimizer_update.wgsl's, shared with those kernels; Hyper, StepParams are records.ts's.
// params, grads: (COUNT) f32, same layout; opt_state: the optimizer's state tensors, each (COUNT),
// as vec4s (lib/optimizer_update.wgsl).
// step_flags: the training stats as words, to raise the step's `nonfinite` flag.

override COUNT: u32;
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> opt_state: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> hyper: Hyper;
@group(0) @binding(4) var<uniform> step: StepParams;
@group(0) @binding(5) var<storage, read_write> step_flags: array<atomic<u32>>;

fn raise_nonfinite() {
  atomicOr(&step_flags[step.slot * STEP_STAT_WORDS + STEP_STAT_NONFINITE], 1u);
}

// dispatch: (⌈COUNT / WG⌉, 1, 1), split over y beyond 65,535 groups
@compute @workgroup_size(WG)
fn update_all(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= COUNT) { return; }
  params[i] = update_param(i, params[i], grads[i]);
}
