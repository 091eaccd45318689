// The optimizer step fused into a gradient kernel: reads the weight from `params`, writes the new
// one to `params_out` (the caller ping-pongs the two parameter buffers between steps, since other
// invocations of the same dispatch still read the old weights). The rule is optimizer_update.wgsl's.

fn update_at(at: u32, grad: f32) {
  params_out[at] = update_param(at, params[at], grad);
}
