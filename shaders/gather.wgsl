// Batch assembly from a data set kept on the GPU as it was given (src/model/data/gpu-dataset.ts).
//
// Layouts:
//   features: COUNT × FEATURES values, row-major: bytes packed 4 to a u32 (BYTES), else f32 bits
//   labels:   (COUNT) u32 class indices
//   order:    the epoch's sample order (u32 indices), when SHUFFLED
//   x:        (ROWS, FEATURES) f32, (feature · scale − MEAN) / STD: scale is 1/255 for bytes,
//             as torchvision's ToTensor (a division by 255, as it does), and 1 for f32
//   y:        (ROWS) u32 labels
// The batch starts at position `step.batch_start` of the order (or of the data set when not SHUFFLED).

override ROWS: u32;
override FEATURES: u32;
override SHUFFLED: bool = true;
override BYTES: bool = true;
override MEAN: f32 = 0.0;
override STD: f32 = 1.0;
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> features: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;
@group(0) @binding(5) var<uniform> step: StepParams;

fn byte_at(word: u32, index: u32) -> u32 {
  return (word >> (8u * (index & 3u))) & 0xffu;
}

// Feature `index` of the flat data set, scaled (bytes to [0, 1]).
fn feature_at(index: u32) -> f32 {
  if (BYTES) { return f32(byte_at(features[index / 4u], index)) / 255.0; }
  return bitcast<f32>(features[index]);
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
  x[i] = (feature_at(sample * FEATURES + f) - MEAN) / STD;
  if (f == 0u) { y[r] = labels[sample]; }
}
