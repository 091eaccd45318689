// The optimizer's rule for one parameter, written once for every kernel that updates weights: the
// fused weight-gradient kernels (dense_*.wgsl, softmax_ce.wgsl's train_head, through
// fused_update.wgsl) and the unfused pass over all parameters (optimizer.wgsl). Exactly
// torch.optim's single-tensor rules (test/golden/README.md), per element, step t = 1, 2, …:
//   SGD:   g = grad + wd·w;  with momentum: buf = g at t = 1, else μ·buf + (1 − dampening)·g;
//          d = g + μ·buf (Nesterov) or buf;  without momentum d = g;  w' = w − lr·d
//   Adam:  g = grad + wd·w (L2);  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;
//          w' = w − step_size · m / (√v / bc2_sqrt + eps),  step_size = lr / (1 − β1^t), bc2_sqrt = √(1 − β2^t)
//   AdamW: w ← w · (1 − lr·wd) (decoupled decay, this step's lr), then Adam with no decay in g.
// The rule is chosen by the OPTIMIZER override (src/kernels/optimizer.ts OPTIMIZER_RULE), so the
// compiler drops the others. The including file declares `opt_state` (read_write storage: the
// optimizer's state, flat like the weights: SGD's momentum buffer at [0, P); Adam's exp_avg at
// [0, P) and exp_avg_sq at [P, 2P), P = hyper.state_stride), `hyper: Hyper` (uniform), `step:
// StepParams` (the step's record, dynamic offset) and `fn raise_nonfinite()`, which flags the step.

override OPTIMIZER: u32 = 0u; // 0 SGD, 1 Adam, 2 AdamW

// NaN and ±Inf have every exponent bit set. Tested on the bits: WGSL lets a compiler assume float
// arithmetic never sees NaN, so a comparison such as x != x may be folded away.
fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn sgd_update(at: u32, w: f32, grad: f32) -> f32 {
  let g = grad + hyper.weight_decay * w;
  if (hyper.momentum == 0.0) { return w - step.lr * g; }
  var buf = g;
  if (step.first == 0u) { buf = hyper.momentum * opt_state[at] + hyper.dampening_keep * g; }
  opt_state[at] = buf;
  var d = buf;
  if (hyper.nesterov != 0u) { d = g + hyper.momentum * buf; }
  return w - step.lr * d;
}

// Returns (w', exp_avg_sq').
fn adam_update(at: u32, w: f32, grad: f32) -> vec2<f32> {
  var g = grad;
  var decayed = w;
  if (OPTIMIZER == 2u) { decayed = w * step.decay; } else { g = grad + hyper.weight_decay * w; }
  let m = hyper.beta1 * opt_state[at] + hyper.one_minus_beta1 * g;
  let v = hyper.beta2 * opt_state[hyper.state_stride + at] + hyper.one_minus_beta2 * (g * g);
  opt_state[at] = m;
  opt_state[hyper.state_stride + at] = v;
  let denom = sqrt(v) / step.bc2_sqrt + hyper.eps;
  return vec2(decayed - step.step_size * (m / denom), v);
}

// Takes the weight w at flat index `at` and its gradient, updates the optimizer state at `at`,
// and returns w', flagging the step when w' or the new state is not finite. One test covers both
// where it can (every test is a lane loop on software adapters, a step does 575k of them): a
// non-finite momentum buffer or exp_avg makes w' non-finite (lr·Inf is ±Inf or NaN, even at
// lr = 0), but exp_avg_sq = +Inf leaves w' finite (exp_avg / Inf = 0), so Adam tests it too.
fn update_param(at: u32, w: f32, grad: f32) -> f32 {
  var next: f32;
  var finite: bool;
  if (OPTIMIZER == 0u) {
    next = sgd_update(at, w, grad);
    finite = is_finite(next);
  } else {
    let r = adam_update(at, w, grad);
    next = r.x;
    finite = is_finite(r.x) & is_finite(r.y);
  }
  if (!finite) { raise_nonfinite(); }
  return next;
}
