// Fused softmax + cross-entropy over a batch of logits, numerically stable (max-subtracted log-sum-exp).
//
// Layouts:
//   logits:   (ROWS, CLASSES) row-major f32
//   labels:   (ROWS) u32 class indices
//   dlogits:  (ROWS, CLASSES)  d(mean loss)/d(logits) = (softmax − onehot) / ROWS
//   stats:    one StepStat per slot: the batch's mean loss and its count of correct predictions,
//             written at slot `step.slot`, so many steps accumulate on the GPU between readbacks;
//             its `nonfinite` flag written 0, raised later in the step by the updates.
//   probs:    (ROWS, CLASSES)  softmax, for inference
//   predicted:(ROWS) u32       argmax (first maximum, as torch.argmax)
// One workgroup does the whole batch: a batch is tiny (64 × 10), and a single group keeps the
// reduction of the batch's loss in a fixed order, so results are the same run to run.
//
// train_head fuses the output layer around it (see there):
//   hidden:   (ROWS, HIDDEN)    the last hidden layer's ReLU output
//   W:        (CLASSES, HIDDEN) at params[W_OFF ..];  b: (CLASSES) at params[B_OFF ..]
//   dhidden:  (ROWS, HIDDEN)    d(mean loss)/d(hidden), ReLU mask applied
//   params_out, opt_state, hyper: the optimizer's update, as the dense kernels' (lib/fused_update.wgsl)
// StepParams, StepStat and Hyper are src/kernels/records.ts's, appended by src/kernels/softmax-ce.ts.

override ROWS: u32;
override CLASSES: u32;
override WG: u32 = 64u;
override HIDDEN: u32 = 1u;
override W_OFF: u32 = 0u;
override B_OFF: u32 = 0u;
const MAX_WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<StepStat>;
@group(0) @binding(5) var<uniform> step: StepParams;
@group(0) @binding(6) var<storage, read_write> probs: array<f32>;
@group(0) @binding(7) var<storage, read_write> predicted: array<u32>;
@group(0) @binding(8) var<storage, read> hidden: array<f32>;
@group(0) @binding(9) var<storage, read> params: array<f32>;
@group(0) @binding(10) var<storage, read_write> dhidden: array<f32>;
@group(0) @binding(11) var<storage, read_write> params_out: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read_write> opt_state: array<vec4<f32>>;
@group(0) @binding(13) var<uniform> hyper: Hyper;

var<workgroup> partial_loss: array<f32, MAX_WG>;
var<workgroup> partial_correct: array<u32, MAX_WG>;
// train_head's updates raise this; thread 0 writes it into the step's StepStat at the end.
var<workgroup> head_nonfinite: atomic<u32>;

fn raise_nonfinite() {
  atomicOr(&head_nonfinite, 1u);
}

// A row's softmax in summary: its largest logit (the first, as torch.argmax), Σ exp(z − max).
// Built in two passes over the row, wherever its logits are (storage here, workgroup memory in
// train_head): row_start with the first logit, row_max with each further one, then row_exp with
// every one; subtracting the maximum keeps exp from overflowing.
struct RowSummary {
  max_logit: f32,
  sum_exp: f32,
  argmax: u32,
}

fn row_start(z0: f32) -> RowSummary {
  return RowSummary(z0, 0.0, 0u);
}

fn row_max(s: RowSummary, c: u32, z: f32) -> RowSummary {
  var t = s;
  if (z > t.max_logit) { t.max_logit = z; t.argmax = c; }
  return t;
}

fn row_exp(s: RowSummary, z: f32) -> RowSummary {
  var t = s;
  t.sum_exp += exp(z - t.max_logit);
  return t;
}

// −log softmax(z)[label], from the label's logit.
fn row_loss(s: RowSummary, z_label: f32) -> f32 {
  return log(s.sum_exp) - (z_label - s.max_logit);
}

fn row_prob(s: RowSummary, z: f32) -> f32 {
  return exp(z - s.max_logit) * (1.0 / s.sum_exp);
}

// d(mean loss)/dz of one class = (softmax − onehot) / ROWS.
fn row_grad(s: RowSummary, z: f32, is_label: bool, inv_rows: f32) -> f32 {
  return (row_prob(s, z) - select(0.0, 1.0, is_label)) * inv_rows;
}

fn summarize_row(r: u32) -> RowSummary {
  let base = r * CLASSES;
  var s = row_start(logits[base]);
  for (var c = 1u; c < CLASSES; c++) { s = row_max(s, c, logits[base + c]); }
  for (var c = 0u; c < CLASSES; c++) { s = row_exp(s, logits[base + c]); }
  return s;
}

// Sums partial_loss / partial_correct over the workgroup in a fixed tree order; thread 0 writes the slot.
fn reduce_into_slot(lid: u32) {
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (lid < width) {
      partial_loss[lid] += partial_loss[lid + width];
      partial_correct[lid] += partial_correct[lid + width];
    }
  }
  if (lid == 0u) {
    stats[step.slot] = StepStat(partial_loss[0] / f32(ROWS), partial_correct[0], 0u);
  }
}

// Training: loss, gradient and accuracy of one batch. dispatch: (1, 1, 1); WG must be a power of two ≤ MAX_WG.
@compute @workgroup_size(WG)
fn train(@builtin(local_invocation_index) lid: u32) {
  var loss = 0.0;
  var correct = 0u;
  let inv_rows = 1.0 / f32(ROWS);
  for (var r = lid; r < ROWS; r += WG) {
    let s = summarize_row(r);
    let label = labels[r];
    let base = r * CLASSES;
    loss += row_loss(s, logits[base + label]);
    correct += select(0u, 1u, s.argmax == label);
    for (var c = 0u; c < CLASSES; c++) { dlogits[base + c] = row_grad(s, logits[base + c], c == label, inv_rows); }
  }
  partial_loss[lid] = loss;
  partial_correct[lid] = correct;
  reduce_into_slot(lid);
}

// Evaluation of one chunk of the test set: mean loss and correct count into stats[step.slot], the
// argmax of each row into predicted[step.batch_start + r]. dispatch: (1, 1, 1)
@compute @workgroup_size(WG)
fn evaluate(@builtin(local_invocation_index) lid: u32) {
  var loss = 0.0;
  var correct = 0u;
  for (var r = lid; r < ROWS; r += WG) {
    let s = summarize_row(r);
    let label = labels[r];
    loss += row_loss(s, logits[r * CLASSES + label]);
    correct += select(0u, 1u, s.argmax == label);
    predicted[step.batch_start + r] = s.argmax;
  }
  partial_loss[lid] = loss;
  partial_correct[lid] = correct;
  reduce_into_slot(lid);
}

// Inference: class probabilities of each row. dispatch: (⌈ROWS / WG⌉, 1, 1)
@compute @workgroup_size(WG)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= ROWS) { return; }
  let s = summarize_row(r);
  for (var c = 0u; c < CLASSES; c++) { probs[r * CLASSES + c] = row_prob(s, logits[r * CLASSES + c]); }
}

// The output layer of a training step, whole, in one dispatch: logits = hidden·Wᵀ + b, the loss
// and accuracy as `train`, dlogits, then the layer's backward pass: dhidden = dlogits·W masked
// by hidden > 0, and the optimizer's update of W and b from dW = dlogitsᵀ·hidden, db = Σ_rows dlogits.
// It reads `params` and writes `params_out`, as the dense kernels' backward_fused, so the caller
// ping-pongs the parameter buffers. The logits, then their gradient, stay in workgroup memory
// (ROWS·CLASSES floats: the caller checks the adapter holds them), which saves two dependent
// dispatches a step: the layer's forward and its backward. dispatch: (1, 1, 1)
var<workgroup> head_logits: array<f32, ROWS * CLASSES>;

@compute @workgroup_size(WG)
fn train_head(@builtin(local_invocation_index) lid: u32) {
  for (var e = lid; e < ROWS * CLASSES; e += WG) {
    let r = e / CLASSES;
    let c = e % CLASSES;
    var z = params[B_OFF + c];
    for (var k = 0u; k < HIDDEN; k++) { z = fma(hidden[r * HIDDEN + k], params[W_OFF + c * HIDDEN + k], z); }
    head_logits[e] = z;
  }
  workgroupBarrier();

  // Each row's softmax-CE; a row is one invocation's, so its logits turn into dlogits in place.
  var loss = 0.0;
  var correct = 0u;
  let inv_rows = 1.0 / f32(ROWS);
  for (var r = lid; r < ROWS; r += WG) {
    let base = r * CLASSES;
    var s = row_start(head_logits[base]);
    for (var c = 1u; c < CLASSES; c++) { s = row_max(s, c, head_logits[base + c]); }
    for (var c = 0u; c < CLASSES; c++) { s = row_exp(s, head_logits[base + c]); }
    let label = labels[r];
    loss += row_loss(s, head_logits[base + label]);
    correct += select(0u, 1u, s.argmax == label);
    for (var c = 0u; c < CLASSES; c++) { head_logits[base + c] = row_grad(s, head_logits[base + c], c == label, inv_rows); }
  }
  partial_loss[lid] = loss;
  partial_correct[lid] = correct;
  reduce_into_slot(lid);
  workgroupBarrier();

  for (var e = lid; e < ROWS * HIDDEN; e += WG) {
    let r = e / HIDDEN;
    let k = e % HIDDEN;
    var g = 0.0;
    for (var c = 0u; c < CLASSES; c++) { g = fma(head_logits[r * CLASSES + c], params[W_OFF + c * HIDDEN + k], g); }
    dhidden[e] = select(g, 0.0, hidden[e] <= 0.0);
  }
  // Column HIDDEN of each class's row is its bias.
  for (var e = lid; e < CLASSES * (HIDDEN + 1u); e += WG) {
    let c = e / (HIDDEN + 1u);
    let k = e % (HIDDEN + 1u);
    var g = 0.0;
    if (k < HIDDEN) {
      for (var r = 0u; r < ROWS; r++) { g = fma(head_logits[r * CLASSES + c], hidden[r * HIDDEN + k], g); }
      update_at(W_OFF + c * HIDDEN + k, g);
    } else {
      for (var r = 0u; r < ROWS; r++) { g += head_logits[r * CLASSES + c]; }
      update_at(B_OFF + c, g);
    }
  }
  workgroupBarrier();
  if (lid == 0u) { stats[step.slot].nonfinite = atomicLoad(&head_nonfinite); }
}
