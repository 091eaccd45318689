// The optimizer step fused into a gradient kernel: reads the weight from `params`, writes the new
// one to `params_out` (array<vec4<f32>>, as `opt_state`: lib/optimizer_update.wgsl says why; the
// caller ping-pongs the two parameter buffers between steps, since other invocations of the same
// dispatch still read the old weights). The rule is optimizer_update.wgsl's.

fn update_at(at: u32, grad: f32) {
  params_out[at >> 2u][at & 3u] = update_param(at, params[at], grad);
}

// The 4 parameters at flat indices at .. at + 3 (at % 4 == 0), whose weights `w` the caller has
// read (dense_subgroup.wgsl reads 4 at once): one load and one store of each buffer for the four.
fn update_quad(at: u32, w: vec4<f32>, grad: vec4<f32>) {
  params_out[at >> 2u] = update_param4(at, w, grad);
}
