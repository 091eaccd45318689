// Batch assembly from a data set kept on the GPU as raw bytes.
//
// Layouts:
//   images: the data set's pixels, COUNT × FEATURES bytes (u8, row-major), packed 4 to a u32
//   labels: COUNT bytes, packed 4 to a u32
//   order:  the epoch's sample order (u32 indices), when SHUFFLED
//   x:      (ROWS, FEATURES) f32, (pixel / 255 − MEAN) / STD, exactly as torchvision's ToTensor + Normalize
//   y:      (ROWS) u32 labels
// The batch starts at position `step.batch_start` of the order (or of the data set when not SHUFFLED).

override ROWS: u32;
override FEATURES: u32;
override SHUFFLED: bool = true;
override MEAN: f32 = 0.1307;
override STD: f32 = 0.3081;
override WG: u32 = 256u;

struct StepParams {
  slot: u32,
  batch_start: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;
@group(0) @binding(5) var<uniform> step: StepParams;

fn byte_at(word: u32, index: u32) -> u32 {
  return (word >> (8u * (index & 3u))) & 0xffu;
}

// dispatch: (⌈ROWS·FEATURES / WG⌉, 1, 1); the host splits larger counts over y (65,535 groups per dimension).
@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= ROWS * FEATURES) { return; }
  let r = i / FEATURES;
  let f = i - r * FEATURES;
  var sample = step.batch_start + r;
  if (SHUFFLED) { sample = order[sample]; }
  let byte_index = sample * FEATURES + f;
  let pixel = f32(byte_at(images[byte_index / 4u], byte_index)) / 255.0;
  x[i] = (pixel - MEAN) / STD;
  if (f == 0u) { y[r] = byte_at(labels[sample / 4u], sample); }
}
