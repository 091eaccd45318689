// Fused softmax + cross-entropy over a batch of logits, numerically stable (max-subtracted log-sum-exp).
//
// Layouts:
//   logits:   (ROWS, CLASSES) row-major f32
//   labels:   (ROWS) u32 class indices
//   dlogits:  (ROWS, CLASSES)  d(mean loss)/d(logits) = (softmax − onehot) / ROWS
//   row_loss: (ROWS)           −log softmax(logits)[label]
//   stats:    one StepStat per slot: the batch's mean loss and its count of correct predictions,
//             written at slot `step.slot`, so many steps accumulate on the GPU between readbacks.
//   probs:    (ROWS, CLASSES)  softmax, for inference
//   predicted:(ROWS) u32       argmax (first maximum, as torch.argmax)
// One workgroup does the whole batch: a batch is tiny (64 × 10), and a single group keeps the
// reduction of the batch's loss in a fixed order, so results are the same run to run.
//
// train_head fuses the output layer around it (see there):
//   hidden:   (ROWS, HIDDEN)    the last hidden layer's ReLU output
//   W:        (CLASSES, HIDDEN) at params[W_OFF ..];  b: (CLASSES) at params[B_OFF ..]
//   dhidden:  (ROWS, HIDDEN)    d(mean loss)/d(hidden), ReLU mask applied
//   params_out, velocity, hyper: the SGD-momentum update, as in matmul.wgsl

override ROWS: u32;
override CLASSES: u32;
override WG: u32 = 64u;
override HIDDEN: u32 = 1u;
override W_OFF: u32 = 0u;
override B_OFF: u32 = 0u;
const MAX_WG: u32 = 256u;

struct StepParams {
  slot: u32,
  batch_start: u32,
  _pad0: u32,
  _pad1: u32,
}

struct StepStat {
  loss: f32,
  correct: u32,
}

struct Hyper {
  lr: f32,
  momentum: f32,
  weight_decay: f32,
  _pad: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<StepStat>;
@group(0) @binding(5) var<uniform> step: StepParams;
@group(0) @binding(6) var<storage, read_write> probs: array<f32>;
@group(0) @binding(7) var<storage, read_write> predicted: array<u32>;
@group(0) @binding(8) var<storage, read> hidden: array<f32>;
@group(0) @binding(9) var<storage, read> params: array<f32>;
@group(0) @binding(10) var<storage, read_write> dhidden: array<f32>;
@group(0) @binding(11) var<storage, read_write> params_out: array<f32>;
@group(0) @binding(12) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(13) var<uniform> hyper: Hyper;

var<workgroup> partial_loss: array<f32, MAX_WG>;
var<workgroup> partial_correct: array<u32, MAX_WG>;

struct RowSummary {
  max_logit: f32,
  sum_exp: f32,
  argmax: u32,
}

fn summarize_row(r: u32) -> RowSummary {
  let base = r * CLASSES;
  var s: RowSummary;
  s.max_logit = logits[base];
  s.argmax = 0u;
  for (var c = 1u; c < CLASSES; c++) {
    let z = logits[base + c];
    if (z > s.max_logit) { s.max_logit = z; s.argmax = c; }
  }
  for (var c = 0u; c < CLASSES; c++) { s.sum_exp += exp(logits[base + c] - s.max_logit); }
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
    stats[step.slot] = StepStat(partial_loss[0] / f32(ROWS), partial_correct[0]);
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
    let l = log(s.sum_exp) - (logits[base + label] - s.max_logit);
    row_loss[r] = l;
    loss += l;
    correct += select(0u, 1u, s.argmax == label);
    let inv_sum = 1.0 / s.sum_exp;
    for (var c = 0u; c < CLASSES; c++) {
      let p = exp(logits[base + c] - s.max_logit) * inv_sum;
      dlogits[base + c] = (p - select(0.0, 1.0, c == label)) * inv_rows;
    }
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
    loss += log(s.sum_exp) - (logits[r * CLASSES + label] - s.max_logit);
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
  let inv_sum = 1.0 / s.sum_exp;
  for (var c = 0u; c < CLASSES; c++) {
    probs[r * CLASSES + c] = exp(logits[r * CLASSES + c] - s.max_logit) * inv_sum;
  }
}

// The output layer of a training step, whole, in one dispatch: logits = hidden·Wᵀ + b, the loss
// and accuracy as `train`, dlogits, then the layer's backward pass: dhidden = dlogits·W masked
// by hidden > 0, and SGD-momentum on W and b from dW = dlogitsᵀ·hidden, db = Σ_rows dlogits.
// It reads `params` and writes `params_out`, as matmul.wgsl's backward_fused, so the caller
// ping-pongs the parameter buffers. The logits, then their gradient, stay in workgroup memory
// (ROWS·CLASSES floats: the caller checks the adapter holds them), which saves two dependent
// dispatches a step: the layer's forward and its backward. dispatch: (1, 1, 1)
var<workgroup> head_logits: array<f32, ROWS * CLASSES>;

fn head_update(at: u32, grad: f32) {
  let w = params[at];
  let g = grad + hyper.weight_decay * w;
  let v = hyper.momentum * velocity[at] + g;
  velocity[at] = v;
  params_out[at] = w - hyper.lr * v;
}

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
    var max_logit = head_logits[base];
    var argmax = 0u;
    for (var c = 1u; c < CLASSES; c++) {
      if (head_logits[base + c] > max_logit) { max_logit = head_logits[base + c]; argmax = c; }
    }
    var sum_exp = 0.0;
    for (var c = 0u; c < CLASSES; c++) { sum_exp += exp(head_logits[base + c] - max_logit); }
    let label = labels[r];
    loss += log(sum_exp) - (head_logits[base + label] - max_logit);
    correct += select(0u, 1u, argmax == label);
    let inv_sum = 1.0 / sum_exp;
    for (var c = 0u; c < CLASSES; c++) {
      let p = exp(head_logits[base + c] - max_logit) * inv_sum;
      head_logits[base + c] = (p - select(0.0, 1.0, c == label)) * inv_rows;
    }
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
      head_update(W_OFF + c * HIDDEN + k, g);
    } else {
      for (var r = 0u; r < ROWS; r++) { g += head_logits[r * CLASSES + c]; }
      head_update(B_OFF + c, g);
    }
  }
}
