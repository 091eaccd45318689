// The optimizer step fused into a gradient kernel: reads the weight from `params`, writes the new
// one to `params_out` (the caller ping-pongs the two parameter buffers between steps, since other
// invocations of the same dispatch still read the old weights). The rule is optimizer_update.wgsl's.

fn update_at(at: u32, grad: f32) {
  update_from(at, params[at], grad);
}

// The same where the caller has read the weight `w` = params[at] already (dense_subgroup.wgsl
// reads 4 at once).
fn update_from(at: u32, w: f32, grad: f32) {
  params_out[at] = update_param(at, w, grad);
}
