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

override ROWS: u32;
override CLASSES: u32;
override WG: u32 = 64u;
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

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<StepStat>;
@group(0) @binding(5) var<uniform> step: StepParams;
@group(0) @binding(6) var<storage, read_write> probs: array<f32>;
@group(0) @binding(7) var<storage, read_write> predicted: array<u32>;

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
