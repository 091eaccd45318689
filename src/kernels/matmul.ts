import source from '../../shaders/matmul.wgsl';
import { ceilDiv, defineFamily, wgslConst, type Grid, type Overrides } from './spec.ts';

const x = { binding: 0, access: 'read' } as const;
const params = { binding: 1, access: 'read' } as const;
const y = { binding: 2, access: 'read_write' } as const;
const dy = { binding: 3, access: 'read' } as const;
const dx = { binding: 4, access: 'read_write' } as const;
const grads = { binding: 5, access: 'read_write' } as const;
const paramsOut = { binding: 6, access: 'read_write' } as const;
const velocity = { binding: 7, access: 'read_write' } as const;
const hyper = { binding: 8, access: 'uniform' } as const;

export const matmul = defineFamily({
  name: 'matmul',
  source,
  entries: {
    forward: { bindings: { x, params, y } },
    grad_input: { bindings: { x, params, dy, dx } },
    grad_weight: { bindings: { x, dy, grads } },
    grad_weight_sgd: { bindings: { x, params, dy, params_out: paramsOut, velocity, hyper } },
    backward_fused: { bindings: { x, params, dy, dx, params_out: paramsOut, velocity, hyper } },
    forward_rows: { bindings: { x, params, y } },
    grad_input_rows: { bindings: { x, params, dy, dx } },
    grad_weight_rows: { bindings: { x, dy, grads } },
    grad_weight_sgd_rows: { bindings: { x, params, dy, params_out: paramsOut, velocity, hyper } },
    backward_fused_rows: { bindings: { x, params, dy, dx, params_out: paramsOut, velocity, hyper } },
    forward_split: { bindings: { x, params, y } },
    grad_input_split: { bindings: { x, params, dy, dx } },
    grad_weight_split: { bindings: { x, dy, grads } },
    grad_weight_sgd_split: { bindings: { x, params, dy, params_out: paramsOut, velocity, hyper } },
    backward_fused_split: { bindings: { x, params, dy, dx, params_out: paramsOut, velocity, hyper } },
  },
});

export type DenseEntry = 'forward' | 'grad_input' | 'grad_weight' | 'grad_weight_sgd' | 'backward_fused';

export const TILE_M = wgslConst(source, 'TILE_M');
export const TILE_N = wgslConst(source, 'TILE_N');
export const ROW_BLOCK = wgslConst(source, 'ROW_BLOCK');

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
 * `rows`: each invocation one column of a ROW_BLOCK-row block, workgroups of wgX (SwiftShader).
 * `split`: the tiles of a wgX × wgY block computed by `split` z-slices of the workgroup, each over
 * its share of the reduction, summed in workgroup memory (GPUs, where batch 64 leaves the tiles'
 * grids too small to fill the machine).
 */
export interface MatmulTuning {
  readonly variant: 'tiles' | 'rows' | 'split';
  readonly wgX: number;
  readonly wgY: number;
  /** z-slices of a `split` workgroup; 1 otherwise */
  readonly split: number;
}

export function entryName(entry: DenseEntry, t: MatmulTuning): string {
  return t.variant === 'tiles' ? entry : `${entry}_${t.variant}`;
}

/** Floats of workgroup memory a `split` workgroup holds its partial tiles in. */
export function splitPartialFloats(t: MatmulTuning): number {
  return t.variant === 'split' ? t.split * t.wgX * TILE_N * t.wgY * TILE_M : 0;
}

export function matmulOverrides(shape: DenseShape, tuning: MatmulTuning, flags: { relu?: boolean; maskRelu?: boolean } = {}): Overrides {
  return {
    M: shape.rows,
    N: shape.outFeatures,
    K: shape.inFeatures,
    W_OFF: shape.weightOffset,
    B_OFF: shape.biasOffset,
    RELU: flags.relu ?? false,
    MASK_RELU: flags.maskRelu ?? false,
    WG_X: tuning.wgX,
    WG_Y: tuning.wgY,
    SPLIT: tuning.split,
  };
}

function tiles(extent: number, per: number, tile: number): number {
  return ceilDiv(extent, per * tile);
}

/** Workgroups along the output's rows (samples, or out-features for dW) and columns. */
function rowsAndColumns(rows: number, columns: number, t: MatmulTuning): [number, number] {
  return t.variant === 'rows'
    ? [ceilDiv(rows, ROW_BLOCK), ceilDiv(columns, t.wgX)]
    : [tiles(rows, t.wgY, TILE_M), tiles(columns, t.wgX, TILE_N)];
}

export function forwardGrid(s: DenseShape, t: MatmulTuning): Grid {
  const [y, x] = rowsAndColumns(s.rows, s.outFeatures, t);
  return [x, y, 1];
}

export function gradInputGrid(s: DenseShape, t: MatmulTuning): Grid {
  const [y, x] = rowsAndColumns(s.rows, s.inFeatures, t);
  return [x, y, 1];
}

/** The split kernels compute db as column K of the weight gradient. */
export function gradWeightGrid(s: DenseShape, t: MatmulTuning): Grid {
  const [y, x] = rowsAndColumns(s.outFeatures, s.inFeatures + (t.variant === 'split' ? 1 : 0), t);
  return [x, y, 1];
}

export function backwardFusedGrid(s: DenseShape, t: MatmulTuning): Grid {
  const [x, weightRows] = gradWeightGrid(s, t);
  return [x, weightRows + gradInputGrid(s, t)[1], 1];
}

export function denseGrid(entry: DenseEntry, s: DenseShape, t: MatmulTuning): Grid {
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
