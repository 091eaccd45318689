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
// compiler drops the others. The including file declares `opt_state` (read_write storage,
// array<vec4<f32>>: the optimizer's state, flat like the weights: SGD's momentum buffer at [0, P);
// Adam's exp_avg at [0, P) and exp_avg_sq at [P, 2P), P = hyper.state_stride), `hyper: Hyper`
// (uniform), `step: StepParams` (the step's record, dynamic offset) and `fn raise_nonfinite()`,
// which flags the step.
//
// `rule` computes four adjacent parameters at once, so that the subgroup kernels update a lane's 4
// weights with one load and one store of each buffer (on llvmpipe every storage access is a loop
// over the lanes, dense_subgroup.wgsl); update_param applies it to one parameter, whose other three
// lanes of the vectors the compilers drop. The state is vec4s for the same reason: WebGPU refuses a
// writable binding aliased by a second one, so a vec4 view of a float array cannot be written.

override OPTIMIZER: u32 = 0u; // 0 SGD, 1 Adam, 2 AdamW

// NaN and ±Inf have every exponent bit set. Tested on the bits: WGSL lets a compiler assume float
// arithmetic never sees NaN, so a comparison such as x != x may be folded away.
fn is_finite(x: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(x) & vec4(0x7f800000u)) != vec4(0x7f800000u);
}

// The optimizer's state at four adjacent parameters: SGD's momentum buffer in `a`; Adam's exp_avg
// in `a`, exp_avg_sq in `b`.
struct OptState {
  a: vec4<f32>,
  b: vec4<f32>,
}

// What `rule` returns: the new weights and state, and which new weights (and Adam's exp_avg_sq)
// are finite.
struct Updated {
  w: vec4<f32>,
  state: OptState,
  finite: vec4<bool>,
}

// Whether this step reads the state (SGD's first step, or SGD without momentum, does not) and
// whether it writes it (SGD without momentum keeps none).
fn reads_state() -> bool {
  return OPTIMIZER != 0u || (hyper.momentum != 0.0 && step.first == 0u);
}

fn writes_state() -> bool {
  return OPTIMIZER != 0u || hyper.momentum != 0.0;
}

// SGD's buf or Adam's m and v, by the rules above.
fn sgd_rule(w: vec4<f32>, grad: vec4<f32>, old: OptState) -> Updated {
  var u: Updated;
  let g = grad + hyper.weight_decay * w;
  if (hyper.momentum == 0.0) {
    u.w = w - step.lr * g;
  } else {
    var buf = g;
    if (step.first == 0u) { buf = hyper.momentum * old.a + hyper.dampening_keep * g; }
    u.state.a = buf;
    var d = buf;
    if (hyper.nesterov != 0u) { d = g + hyper.momentum * buf; }
    u.w = w - step.lr * d;
  }
  u.finite = is_finite(u.w);
  return u;
}

fn adam_rule(w: vec4<f32>, grad: vec4<f32>, old: OptState) -> Updated {
  var g = grad;
  var decayed = w;
  if (OPTIMIZER == 2u) { decayed = w * step.decay; } else { g = grad + hyper.weight_decay * w; }
  var u: Updated;
  u.state.a = hyper.beta1 * old.a + hyper.one_minus_beta1 * g;
  u.state.b = hyper.beta2 * old.b + hyper.one_minus_beta2 * (g * g);
  let denom = sqrt(u.state.b) / step.bc2_sqrt + hyper.eps;
  u.w = decayed - step.step_size * (u.state.a / denom);
  // One test covers both where it can (every test is a lane loop on software adapters, a step does
  // 575k of them): a non-finite momentum buffer or exp_avg makes w' non-finite (lr·Inf is ±Inf or
  // NaN, even at lr = 0), but exp_avg_sq = +Inf leaves w' finite (exp_avg / Inf = 0).
  u.finite = is_finite(u.w) & is_finite(u.state.b);
  return u;
}

fn rule(w: vec4<f32>, grad: vec4<f32>, old: OptState) -> Updated {
  if (OPTIMIZER == 0u) { return sgd_rule(w, grad, old); }
  return adam_rule(w, grad, old);
}

fn state_at(i: u32) -> f32 {
  return opt_state[i >> 2u][i & 3u];
}

fn set_state_at(i: u32, v: f32) {
  opt_state[i >> 2u][i & 3u] = v;
}

// Takes the weight w at flat index `at` and its gradient, updates the optimizer state at `at`,
// and returns w', flagging the step when w' or the new state is not finite.
fn update_param(at: u32, w: f32, grad: f32) -> f32 {
  var old: OptState;
  if (reads_state()) {
    old.a = vec4(state_at(at));
    if (OPTIMIZER != 0u) { old.b = vec4(state_at(hyper.state_stride + at)); }
  }
  let u = rule(vec4(w), vec4(grad), old);
  if (writes_state()) {
    set_state_at(at, u.state.a.x);
    if (OPTIMIZER != 0u) { set_state_at(hyper.state_stride + at, u.state.b.x); }
  }
  if (!u.finite.x) { raise_nonfinite(); }
  return u.w.x;
}

// The state's 4 floats from flat index i (i % 4 == 0 for the first tensor; the second starts at
// state_stride, which need not be a multiple of 4).
fn state4_at(i: u32) -> vec4<f32> {
  if ((i & 3u) == 0u) { return opt_state[i >> 2u]; }
  return vec4(state_at(i), state_at(i + 1u), state_at(i + 2u), state_at(i + 3u));
}

fn set_state4_at(i: u32, v: vec4<f32>) {
  if ((i & 3u) == 0u) {
    opt_state[i >> 2u] = v;
  } else {
    for (var j = 0u; j < 4u; j++) { set_state_at(i + j, v[j]); }
  }
}

// update_param for the 4 parameters at flat indices at .. at + 3 (at % 4 == 0).
fn update_param4(at: u32, w: vec4<f32>, grad: vec4<f32>) -> vec4<f32> {
  var old: OptState;
  if (reads_state()) {
    old.a = opt_state[at >> 2u];
    if (OPTIMIZER != 0u) { old.b = state4_at(hyper.state_stride + at); }
  }
  let u = rule(w, grad, old);
  if (writes_state()) {
    opt_state[at >> 2u] = u.state.a;
    if (OPTIMIZER != 0u) { set_state4_at(hyper.state_stride + at, u.state.b); }
  }
  if (!all(u.finite)) { raise_nonfinite(); }
  return u.w;
}
