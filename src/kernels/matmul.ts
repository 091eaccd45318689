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
  },
});

export const TILE_M = wgslConst(source, 'TILE_M');
export const TILE_N = wgslConst(source, 'TILE_N');

/** One dense layer at a given number of rows: X (rows, inFeatures) → Y (rows, outFeatures). */
export interface DenseShape {
  readonly rows: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** offsets (in floats) of W (out, in) and b (out) in the flat parameter buffers */
  readonly weightOffset: number;
  readonly biasOffset: number;
}

export interface MatmulTuning {
  readonly wgX: number;
  readonly wgY: number;
}

export function matmulOverrides(
  shape: DenseShape,
  tuning: MatmulTuning,
  flags: { relu?: boolean; maskRelu?: boolean } = {},
): Overrides {
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
  };
}

function tiles(extent: number, per: number, tile: number): number {
  return ceilDiv(extent, per * tile);
}

export function forwardGrid(s: DenseShape, t: MatmulTuning): Grid {
  return [tiles(s.outFeatures, t.wgX, TILE_N), tiles(s.rows, t.wgY, TILE_M), 1];
}

export function gradInputGrid(s: DenseShape, t: MatmulTuning): Grid {
  return [tiles(s.inFeatures, t.wgX, TILE_N), tiles(s.rows, t.wgY, TILE_M), 1];
}

export function gradWeightGrid(s: DenseShape, t: MatmulTuning): Grid {
  return [tiles(s.inFeatures, t.wgX, TILE_N), tiles(s.outFeatures, t.wgY, TILE_M), 1];
}

export function backwardFusedGrid(s: DenseShape, t: MatmulTuning): Grid {
  const [cols, weightRows] = gradWeightGrid(s, t);
  return [cols, weightRows + tiles(s.rows, t.wgY, TILE_M), 1];
}
