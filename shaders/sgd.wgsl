// SGD with momentum over the model's flat parameter buffer, in one dispatch, exactly PyTorch's
// torch.optim.SGD (dampening 0, no Nesterov):
//   g = grad + weight_decay · w;   v = momentum · v + g;   w = w − lr · v
// On the first step v is 0, so v = g, as PyTorch's buffer initialised with a clone of g.
// params, grads, velocity: (COUNT) f32, same layout.

override COUNT: u32;
override WG: u32 = 256u;

struct Hyper {
  lr: f32,
  momentum: f32,
  weight_decay: f32,
  _pad: f32,
}

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(3) var<uniform> hyper: Hyper;

// dispatch: (⌈COUNT / WG⌉, 1, 1), split over y beyond 65,535 groups
@compute @workgroup_size(WG)
fn step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= COUNT) { return; }
  let w = params[i];
  let g = grads[i] + hyper.weight_decay * w;
  let v = hyper.momentum * velocity[i] + g;
  velocity[i] = v;
  params[i] = w - hyper.lr * v;
}
