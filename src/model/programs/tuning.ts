/** Per-adapter kernel shapes, and which the engine picks for an adapter. */
import { SUBGROUP_BLOCK, SUBGROUP_STORAGE_BUFFERS, type DenseTuning, type DenseVariant } from '../../kernels/dense.ts';
import type { AdapterSummary } from '../../runtime/device.ts';

export interface Tuning {
  readonly matmul: DenseTuning;
  /**
   * The optimizer fused into the weight-gradient kernels (default true) or run as its own pass
   * over all parameters; a trainer's `fusedUpdate` option overrides it.
   */
  readonly fusedUpdate?: boolean;
}

/** Whether a tuning fuses the optimizer into the weight-gradient kernels (its default: yes). */
export function fusesUpdate(t: Tuning): boolean {
  return t.fusedUpdate ?? true;
}

export const TILES_TUNING: Tuning = { matmul: { variant: 'tiles', wgX: 8, wgY: 2, split: 1 } };
// SwiftShader runs the update faster as its own pass: in Chrome 80–87 ms a step against 97–104 ms
// fused (3 runs each, alternating; bench/RESULTS.md, 2026-12-02 third session), the fused
// epilogue's loops over a 16 × 4 block costing it more than the pass's one parameter a lane.
export const ROWS_TUNING: Tuning = { matmul: { variant: 'rows', wgX: 16, wgY: 1, split: 1 }, fusedUpdate: false };
export const SPLIT_TUNING: Tuning = { matmul: { variant: 'split', wgX: 4, wgY: 4, split: 16 } };
export const SUBGROUP_TUNING: Tuning = { matmul: { variant: 'subgroup', wgX: SUBGROUP_BLOCK.group, wgY: 1, split: 1 } };
export const DEFAULT_TUNING = TILES_TUNING;
export const TUNINGS: Readonly<Record<DenseVariant, Tuning>> = {
  tiles: TILES_TUNING,
  rows: ROWS_TUNING,
  split: SPLIT_TUNING,
  subgroup: SUBGROUP_TUNING,
};

/**
 * Whether the subgroup kernels can run on an adapter: the feature, subgroups at least a workgroup
 * wide, and the storage buffers their backward_fused binds (9: x and params also as vec4 views).
 */
export function hasWideSubgroups(adapter: AdapterSummary): boolean {
  return (
    adapter.features.includes('subgroups') &&
    adapter.subgroupMinSize >= SUBGROUP_BLOCK.group &&
    adapter.maxStorageBuffersPerShaderStage >= SUBGROUP_STORAGE_BUFFERS
  );
}

/**
 * The kernels for an adapter. Software adapters as measured (bench/RESULTS.md): SwiftShader runs
 * the row-block matmuls fastest (16 rows × 4 columns a lane in named accumulators: 117 ms a step
 * in Chrome with the update fused, 83 ms with it as its own pass, against 699 ms for the
 * one-column form before it and 611 ms for the 8 × 8 tiles, whose loop-indexed arrays it keeps in
 * memory). lavapipe runs the subgroup kernels where its subgroups are at least 8 lanes wide (a
 * workgroup is one subgroup that loads the shared operand once and broadcasts it: a step 2.0×
 * faster than the tiles, 13.4–13.9 against 27.8 ms), else the register tiles (8 × 8 outputs an invocation
 * in workgroups of 8 × 2: 1.6× faster than 4 × 4 tiles in 8 × 8 workgroups, which ran 36 against
 * 69 ms a step for the split kernels, whose barriers it pays for dearly). GPUs get the split
 * kernels: at batch 64 the tiles' grids hold a few thousand invocations with reductions up to 784
 * long, far too little to fill a GPU; the split ones launch up to 16× the invocations with 1/16 of
 * the serial chain.
 */
export function tuningFor(adapter: AdapterSummary): Tuning {
  const text = `${adapter.vendor} ${adapter.architecture} ${adapter.device} ${adapter.description}`;
  if (/swiftshader/i.test(text)) return ROWS_TUNING;
  if (adapter.isFallback) return hasWideSubgroups(adapter) ? SUBGROUP_TUNING : TILES_TUNING;
  return SPLIT_TUNING;
}
