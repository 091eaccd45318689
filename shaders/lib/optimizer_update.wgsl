// The optimizer's rule for one parameter, written once for every kernel that updates weights: the
// fused weight-gradient kernels (dense_*.wgsl, softmax_ce.wgsl's train_head, through
// fused_update.wgsl) and the unfused pass over all parameters (optimizer.wgsl).
// PyTorch's torch.optim.SGD (dampening 0, no Nesterov):  g += wd·w;  v = μ·v + g;  w' = w − lr·v.
// On the first step v is 0, so v = g, as PyTorch's buffer initialised with a clone of g.
// Takes the weight w at flat index `at` and its gradient, keeps the optimizer state at `at`, and
// returns w'. The including file declares `velocity` (read_write storage, one f32 per parameter)
// and `hyper: Hyper` (uniform; the struct is src/kernels/records.ts's).

fn update_param(at: u32, w: f32, grad: f32) -> f32 {
  let g = grad + hyper.weight_decay * w;
  let v = hyper.momentum * velocity[at] + g;
  velocity[at] = v;
  return w - hyper.lr * v;
}
