/**
 * The dense layer kernels: Y = X·Wᵀ + b (ReLU optional) and its backward forms, in four variants
 * with the same entry points and bindings, one WGSL file each (shaders/dense_*.wgsl) on top of the
 * shared shaders/lib/dense_common.wgsl.
 */
import common from '../../shaders/lib/dense_common.wgsl';
import tile from '../../shaders/lib/dense_tile.wgsl';
import fusedUpdate from '../../shaders/lib/fused_update.wgsl';
import optimizerUpdate from '../../shaders/lib/optimizer_update.wgsl';
import rowsSource from '../../shaders/dense_rows.wgsl';
import splitSource from '../../shaders/dense_split.wgsl';
import subgroupSource from '../../shaders/dense_subgroup.wgsl';
import tilesSource from '../../shaders/dense_tiles.wgsl';
import { ruleOverrides, type OptimizerRule } from './optimizer.ts';
import { DenseDims, Hyper, recordsWgsl, StepParams, stepStatFlagWgsl } from './records.ts';
import { ceilDiv, composeWgsl, defineFamily, wgslConst, type Grid, type KernelFamily, type Overrides } from './spec.ts';

const x = { binding: 0, access: 'read' } as const;
const params = { binding: 1, access: 'read' } as const;
const y = { binding: 2, access: 'read_write' } as const;
const dy = { binding: 3, access: 'read' } as const;
const dx = { binding: 4, access: 'read_write' } as const;
const grads = { binding: 5, access: 'read_write' } as const;
const paramsOut = { binding: 6, access: 'read_write' } as const;
const optState = { binding: 7, access: 'read_write' } as const;
const hyper = { binding: 8, access: 'uniform' } as const;
const step = { binding: 9, access: 'uniform_dynamic' } as const;
const stepFlags = { binding: 10, access: 'read_write' } as const;
const dims = { binding: 11, access: 'uniform' } as const;
const update = { params_out: paramsOut, opt_state: optState, hyper, step, step_flags: stepFlags };
// the subgroup variant's vec4 views of x and params (its VEC4 form reads them four floats a load)
const x4 = { binding: 12, access: 'read', view: 'x' } as const;
const params4 = { binding: 13, access: 'read', view: 'params' } as const;

const entries = {
  forward: { bindings: { x, params, y, dims } },
  grad_input: { bindings: { x, params, dy, dx, dims } },
  grad_weight: { bindings: { x, dy, grads, dims } },
  grad_weight_update: { bindings: { x, params, dy, dims, ...update } },
  backward_fused: { bindings: { x, params, dy, dx, dims, ...update } },
};

const subgroupEntries = {
  forward: { bindings: { ...entries.forward.bindings, x4, params4 } },
  grad_input: { bindings: { ...entries.grad_input.bindings, params4 } },
  grad_weight: { bindings: { ...entries.grad_weight.bindings, x4 } },
  grad_weight_update: { bindings: { ...entries.grad_weight_update.bindings, x4, params4 } },
  backward_fused: { bindings: { ...entries.backward_fused.bindings, x4, params4 } },
};

/** The most storage buffers one of the subgroup variant's entries binds (the device must allow them). */
export const SUBGROUP_STORAGE_BUFFERS = Math.max(
  ...Object.values(subgroupEntries).map(
    (e) => Object.values(e.bindings).filter((b) => b.access === 'read' || b.access === 'read_write').length,
  ),
);

export type DenseEntry = keyof typeof entries;
export type DenseVariant = 'tiles' | 'rows' | 'split' | 'subgroup';

const shared = [common, fusedUpdate, optimizerUpdate, recordsWgsl(Hyper, StepParams, DenseDims), stepStatFlagWgsl];

export const denseFamilies: Readonly<Record<DenseVariant, KernelFamily<DenseEntry>>> = {
  tiles: defineFamily({ name: 'dense_tiles', source: composeWgsl(tilesSource, tile, ...shared), entries }),
  rows: defineFamily({ name: 'dense_rows', source: composeWgsl(rowsSource, ...shared), entries }),
  split: defineFamily({ name: 'dense_split', source: composeWgsl(splitSource, tile, ...shared), entries }),
  subgroup: defineFamily({ name: 'dense_subgroup', source: composeWgsl(subgroupSource, ...shared), entries: subgroupEntries }),
};

/** Outputs per invocation of the tiled variants, as their WGSL files declare them: [rows, columns]. */
export const TILES: Readonly<Record<'tiles' | 'split', readonly [number, number]>> = {
  tiles: [wgslConst(tilesSource, 'TILE_M'), wgslConst(tilesSource, 'TILE_N')],
  split: [wgslConst(splitSource, 'TILE_M'), wgslConst(splitSource, 'TILE_N')],
};
export const ROW_BLOCK = wgslConst(rowsSource, 'ROW_BLOCK');
/** Output columns a lane of the `rows` variant computes, WG_X apart. */
export const LANE_COLS = wgslConst(rowsSource, 'LANE_COLS');
/** The `subgroup` variant: lanes of a workgroup (one subgroup), its rows, and each lane's columns (GROUP apart). */
export const SUBGROUP_BLOCK = {
  group: wgslConst(subgroupSource, 'GROUP'),
  rows: wgslConst(subgroupSource, 'BLOCK_M'),
  laneColumns: wgslConst(subgroupSource, 'LANE_N'),
} as const;

/** One dense layer at a given number of rows: X (rows, inFeatures) → Y (rows, outFeatures). */
export interface DenseShape {
  readonly rows: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** offsets (in floats) of W (out, in) and b (out) in the flat parameter buffers */
  readonly weightOffset: number;
  readonly biasOffset: number;
}

/**
 * `tiles`: each invocation a TILE_M × TILE_N register tile, workgroups of wgX × wgY (lavapipe).
 * `rows`: each invocation LANE_COLS columns of a ROW_BLOCK-row block, workgroups of wgX (SwiftShader).
 * `split`: the tiles of a wgX × wgY block computed by `split` z-slices of the workgroup, each over
 * its share of the reduction, summed in workgroup memory (GPUs, where batch 64 leaves the tiles'
 * grids too small to fill the machine).
 * `subgroup`: a workgroup is one subgroup of SUBGROUP_BLOCK.group lanes (wgX, wgY 1), which loads a
 * 16-row block of the shared operand once and broadcasts it (lavapipe); needs the `subgroups`
 * feature and subgroups at least that wide.
 */
export interface DenseTuning {
  readonly variant: DenseVariant;
  readonly wgX: number;
  readonly wgY: number;
  /** z-slices of a `split` workgroup; 1 otherwise */
  readonly split: number;
}

export function denseFamily(t: DenseTuning): KernelFamily<DenseEntry> {
  return denseFamilies[t.variant];
}

/** Floats of workgroup memory a `split` workgroup holds its partial tiles in. */
export function splitPartialFloats(t: DenseTuning): number {
  return t.variant === 'split' ? t.split * t.wgX * TILES.split[1] * t.wgY * TILES.split[0] : 0;
}

/**
 * The pipeline's constants: the variant's workgroup, the fused ReLU or its mask, and `rule`, the
 * optimizer's update rule for the updating entries (grad_weight_update, backward_fused). The
 * layer's shape is not among them (denseDims): one pipeline serves every layer.
 */
export function denseOverrides(
  tuning: DenseTuning,
  flags: { relu?: boolean; maskRelu?: boolean; rule?: OptimizerRule; vec4?: boolean } = {},
): Overrides {
  return {
    RELU: flags.relu ?? false,
    MASK_RELU: flags.maskRelu ?? false,
    WG_X: tuning.wgX,
    WG_Y: tuning.wgY,
    // only dense_split.wgsl declares SPLIT, and a pipeline may set only the overrides its module has
    ...(tuning.variant === 'split' ? { SPLIT: tuning.split } : {}),
    ...(tuning.variant === 'subgroup' ? { VEC4: flags.vec4 ?? false } : {}),
    ...(flags.rule ? ruleOverrides(flags.rule) : {}),
  };
}

/**
 * Whether a layer's rows of X and W start on 16-byte boundaries (K % 4 == 0, W's offset % 4 == 0),
 * so that the subgroup kernels may read them as vec4s (their VEC4 form: an X of M·K floats and a W
 * inside the flat parameters then lie whole in the vec4 views).
 */
export function denseVec4(shape: DenseShape): boolean {
  return shape.inFeatures % 4 === 0 && shape.weightOffset % 4 === 0;
}

/** The `dims` uniform of a dense dispatch: the layer's shape and where its W and b start. */
export function denseDims(shape: DenseShape): Uint8Array<ArrayBuffer> {
  return DenseDims.bytes({ m: shape.rows, n: shape.outFeatures, k: shape.inFeatures, wOff: shape.weightOffset, bOff: shape.biasOffset });
}

/** Workgroups along the output's rows (samples, or out-features for dW) and columns. */
function rowsAndColumns(rows: number, columns: number, t: DenseTuning): [number, number] {
  if (t.variant === 'rows') return [ceilDiv(rows, ROW_BLOCK), ceilDiv(columns, t.wgX * LANE_COLS)];
  if (t.variant === 'subgroup')
    return [ceilDiv(rows, SUBGROUP_BLOCK.rows), ceilDiv(columns, SUBGROUP_BLOCK.group * SUBGROUP_BLOCK.laneColumns)];
  const [tileRows, tileColumns] = TILES[t.variant];
  return [ceilDiv(rows, t.wgY * tileRows), ceilDiv(columns, t.wgX * tileColumns)];
}

export function forwardGrid(s: DenseShape, t: DenseTuning): Grid {
  const [y, x] = rowsAndColumns(s.rows, s.outFeatures, t);
  return [x, y, 1];
}

export function gradInputGrid(s: DenseShape, t: DenseTuning): Grid {
  const [y, x] = rowsAndColumns(s.rows, s.inFeatures, t);
  return [x, y, 1];
}

/** The split kernels compute db as column K of the weight gradient. */
export function gradWeightGrid(s: DenseShape, t: DenseTuning): Grid {
  const [y, x] = rowsAndColumns(s.outFeatures, s.inFeatures + (t.variant === 'split' ? 1 : 0), t);
  return [x, y, 1];
}

export function backwardFusedGrid(s: DenseShape, t: DenseTuning): Grid {
  const [x, weightRows] = gradWeightGrid(s, t);
  return [x, weightRows + gradInputGrid(s, t)[1], 1];
}

export function denseGrid(entry: DenseEntry, s: DenseShape, t: DenseTuning): Grid {
  switch (entry) {
    case 'forward':
      return forwardGrid(s, t);
    case 'grad_input':
      return gradInputGrid(s, t);
    case 'backward_fused':
      return backwardFusedGrid(s, t);
    default:
      return gradWeightGrid(s, t);
  }
}
