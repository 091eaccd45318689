// Shared by the dense layer kernels (dense_tiles.wgsl, dense_rows.wgsl, dense_split.wgsl), appended
// after the variant's own file by src/kernels/dense.ts. Layouts (all row-major f32):
//   X:      (M, K)   layer input; rows are samples
//   W:      (N, K)   weights, PyTorch's nn.Linear layout, at params[W_OFF ..]
//   b:      (N)      bias, at params[B_OFF ..]
//   Y, dY:  (M, N)   layer output and its gradient
//   dX:     (M, K)   gradient w.r.t. the input, ReLU mask of the previous layer fused in
//   dW:     (N, K)   weight gradient, at grads[W_OFF ..];  db: (N) at grads[B_OFF ..]
// `params`, `grads`, `params_out` and `opt_state` are the model's flat parameter buffers: every
// layer's tensors at fixed offsets, so one binding serves every layer and the optimizer can run in
// one pass (`params_out` and `opt_state` as vec4s, indexed [i >> 2][i & 3] for one float: the
// subgroup kernels write four at a time, lib/optimizer_update.wgsl). Out-of-range rows and columns are clamped on load (always a valid address) and masked
// on store. M, N, K and the offsets W_OFF, B_OFF are `dims.m`, `dims.n`, `dims.k`, `dims.w_off`
// and `dims.b_off`: a uniform (DenseDims, src/kernels/records.ts), not overrides, so one compiled
// pipeline serves every layer, model and batch size. lavapipe takes seconds to compile a tiled
// entry point, and with the shape in overrides it compiled one per layer and batch (the seed
// model's 5 layers, the tests' dozens of shapes).

override RELU: bool = false;      // forward: apply ReLU to Y
override MASK_RELU: bool = false; // grad_input: zero dX where X <= 0 (X is the previous layer's ReLU output; NaN passes, as torch's threshold_backward)
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> grads: array<f32>;
@group(0) @binding(6) var<storage, read_write> params_out: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> opt_state: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> hyper: Hyper;
@group(0) @binding(9) var<uniform> step: StepParams;
// The training stats (StepStat records) seen as words, to raise the step's `nonfinite` flag.
@group(0) @binding(10) var<storage, read_write> step_flags: array<atomic<u32>>;
@group(0) @binding(11) var<uniform> dims: DenseDims;

fn raise_nonfinite() {
  atomicOr(&step_flags[step.slot * STEP_STAT_WORDS + STEP_STAT_NONFINITE], 1u);
}

// PyTorch's relu: NaN stays NaN (WGSL's max(NaN, 0.0) may return 0, which hid NaN weights).
fn relu(v: f32) -> f32 {
  return select(v, 0.0, v < 0.0);
}

// The epilogues, each its own function: an entry point binds whatever its call graph mentions.
fn forward_store(m: u32, n: u32, sum: f32) {
  var v = sum + params[dims.b_off + n];
  if (RELU) { v = relu(v); }
  y[m * dims.n + n] = v;
}

fn grad_input_store(m: u32, k: u32, sum: f32) {
  var v = sum;
  if (MASK_RELU && x[m * dims.k + k] <= 0.0) { v = 0.0; }
  dx[m * dims.k + k] = v;
}
