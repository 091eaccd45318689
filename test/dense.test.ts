import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backwardFusedGrid,
  denseFamily,
  forwardGrid,
  gradInputGrid,
  gradWeightGrid,
  denseOverrides,
  denseVec4,
  TILES,
  LANE_COLS,
  SUBGROUP_STORAGE_BUFFERS,
  ROW_BLOCK,
  splitPartialFloats,
  type DenseShape,
  type DenseTuning,
} from '../src/kernels/dense.ts';
import { mlp } from '../src/model/model.ts';
import { sgd } from '../src/model/optimizers.ts';
import { configFrom } from '../src/model/trainer/config.ts';
import type { AdapterSummary, Gpu } from '../src/runtime/device.ts';
import { ROWS_TUNING, SPLIT_TUNING, SUBGROUP_TUNING, TILES_TUNING, tuningFor } from '../src/model/programs/tuning.ts';
import { Rng } from '../src/model/rng.ts';
import { defineFamily } from '../src/kernels/spec.ts';
import { bindGroup } from '../src/runtime/pipelines.ts';
import {
  dimsBuffer,
  expectClose,
  expectedUpdate,
  optimizerBindings,
  randomArray,
  readF32,
  runKernel,
  storageBuffer,
  testGpu,
} from './helpers.ts';

// Float64 references. X (M,K), W (N,K), b (N), dY (M,N).
function forwardRef(x: Float32Array, w: Float32Array, b: Float32Array, M: number, N: number, K: number, relu: boolean) {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = b[n]!;
      for (let k = 0; k < K; k++) s += x[m * K + k]! * w[n * K + k]!;
      y[m * N + n] = relu ? Math.max(s, 0) : s;
    }
  return y;
}

function gradInputRef(dy: Float32Array, w: Float32Array, x: Float32Array, M: number, N: number, K: number, mask: boolean) {
  const dx = new Float64Array(M * K);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dy[m * N + n]! * w[n * K + k]!;
      dx[m * K + k] = mask && x[m * K + k]! <= 0 ? 0 : s;
    }
  return dx;
}

function gradWeightRef(dy: Float32Array, x: Float32Array, M: number, N: number, K: number) {
  const dw = new Float64Array(N * K);
  const db = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) db[n]! += dy[m * N + n]!;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += dy[m * N + n]! * x[m * K + k]!;
      dw[n * K + k] = s;
    }
  }
  return { dw, db };
}

/** Params laid out as the model does: W then b, at offsets that are deliberately not tile-aligned. */
function layout(M: number, N: number, K: number, weightOffset = 3): DenseShape & { total: number } {
  const biasOffset = weightOffset + N * K + 5;
  return { rows: M, inFeatures: K, outFeatures: N, weightOffset, biasOffset, total: biasOffset + N + 2 };
}

// Shapes around the tiles (8×8 outputs an invocation for `tiles`, 4×4 for `split`, blocks of 64 columns and
// 16–32 rows): 1, tile±1, odd sizes, and the MLP's own.
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 10, 64],
  [3, 33, 31],
  [45, 65, 99],
  [64, 31, 33],
  [65, 45, 7],
  [64, 512, 784],
  [33, 10, 64],
];

const tunings: DenseTuning[] = [
  { variant: 'tiles', wgX: 8, wgY: 2, split: 1 },
  { variant: 'tiles', wgX: 4, wgY: 4, split: 1 },
  // one rows tuning: its 64-column blocks already leave partial blocks at every awkward shape, and
  // each extra workgroup width costs lavapipe its own compiles (~15 s of the suite)
  { variant: 'rows', wgX: 16, wgY: 1, split: 1 },
  { variant: 'split', wgX: 4, wgY: 4, split: 16 },
  // a split that does not divide the reductions, so some z-slices get short or empty ranges
  { variant: 'split', wgX: 2, wgY: 8, split: 7 },
  // lavapipe's: one subgroup of 8 lanes a workgroup, 16 rows × 32 columns a block
  { variant: 'subgroup', wgX: 8, wgY: 1, split: 1 },
];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// Each variant's first tuning meets every shape; the others (other workgroup shapes, a split that does not
// divide) meet the awkward ones only: a single element, tile±1 and odd sizes in every dimension. The MLP's
// own 784 → 512 layer goes to the first tuning of each variant.
const primary = new Set([tunings[0]!, tunings[2]!, tunings[3]!, tunings[5]!]);
const awkward = (M: number, N: number, K: number) =>
  [
    [1, 1, 1],
    [3, 33, 31],
    [45, 65, 99],
    [65, 45, 7],
  ].some(([m, n, k]) => m === M && n === N && k === K);

const cases = [
  ...shapes.flatMap(([M, N, K]) =>
    tunings.filter((t) => primary.has(t) || awkward(M, N, K)).map((tuning) => ({ M, N, K, tuning, weightOffset: 3 })),
  ),
  // the subgroup kernels' VEC4 form, where W starts on 16 bytes and K % 4 == 0 (denseVec4); at 36 a
  // block's second 32 columns hold one lane's 4, and M, N that are not multiples of 4 leave steps over
  ...(
    [
      [1, 10, 64],
      [33, 10, 64],
      [5, 12, 36],
      [64, 512, 784],
    ] as const
  ).map(([M, N, K]) => ({ M, N, K, tuning: tunings[5]!, weightOffset: 4 })),
];

describe('matmul kernels against float64 references', () => {
  for (const { M, N, K, tuning, weightOffset } of cases) {
    {
      const vec4 = tuning.variant === 'subgroup' && denseVec4(layout(M, N, K, weightOffset));
      const tag = `(${M},${K})·(${N},${K})ᵀ ${tuning.variant}${vec4 ? ' vec4' : ''} wg ${tuning.wgX}×${tuning.wgY}×${tuning.split}`;
      it(`forward ${tag}, with and without ReLU`, async () => {
        const rng = new Rng(M * 1000 + N * 10 + K);
        const s = layout(M, N, K, weightOffset);
        const x = randomArray(rng, M * K);
        const params = randomArray(rng, s.total, 0.5);
        const w = params.subarray(s.weightOffset, s.weightOffset + N * K);
        const b = params.subarray(s.biasOffset, s.biasOffset + N);
        for (const relu of [false, true]) {
          const kernel = await gpu.pipelines.get(denseFamily(tuning), 'forward', denseOverrides(tuning, { relu, vec4 }));
          const y = storageBuffer(gpu, 'y', M * N);
          await runKernel(
            gpu,
            kernel,
            { x: storageBuffer(gpu, 'x', x), params: storageBuffer(gpu, 'p', params), y, dims: dimsBuffer(gpu, s) },
            forwardGrid(s, tuning),
          );
          expectClose(await readF32(gpu, y), forwardRef(x, w, b, M, N, K, relu), { atol: 1e-5, rtol: 1e-4, what: `Y relu=${relu}` });
        }
      });

      it(`grad_input ${tag}, with and without the ReLU mask`, async () => {
        const rng = new Rng(M * 7 + N * 11 + K * 13);
        const s = layout(M, N, K, weightOffset);
        const x = randomArray(rng, M * K); // about half of it ≤ 0, so the mask matters
        const params = randomArray(rng, s.total, 0.5);
        const dy = randomArray(rng, M * N);
        for (const maskRelu of [false, true]) {
          const kernel = await gpu.pipelines.get(denseFamily(tuning), 'grad_input', denseOverrides(tuning, { maskRelu, vec4 }));
          const dx = storageBuffer(gpu, 'dx', M * K);
          await runKernel(
            gpu,
            kernel,
            {
              x: storageBuffer(gpu, 'x', x),
              params: storageBuffer(gpu, 'p', params),
              dy: storageBuffer(gpu, 'dy', dy),
              dx,
              dims: dimsBuffer(gpu, s),
            },
            gradInputGrid(s, tuning),
          );
          const w = params.subarray(s.weightOffset, s.weightOffset + N * K);
          expectClose(await readF32(gpu, dx), gradInputRef(dy, w, x, M, N, K, maskRelu), { what: `dX mask=${maskRelu}` });
        }
      });

      it(`grad_weight ${tag} with the bias gradient fused`, async () => {
        const rng = new Rng(M + N * 3 + K * 5);
        const s = layout(M, N, K, weightOffset);
        const x = randomArray(rng, M * K);
        const dy = randomArray(rng, M * N);
        const kernel = await gpu.pipelines.get(denseFamily(tuning), 'grad_weight', denseOverrides(tuning, { vec4 }));
        const grads = storageBuffer(gpu, 'grads', s.total);
        await runKernel(
          gpu,
          kernel,
          { x: storageBuffer(gpu, 'x', x), dy: storageBuffer(gpu, 'dy', dy), grads, dims: dimsBuffer(gpu, s) },
          gradWeightGrid(s, tuning),
        );
        const out = await readF32(gpu, grads);
        const ref = gradWeightRef(dy, x, M, N, K);
        expectClose(out.subarray(s.weightOffset, s.weightOffset + N * K), ref.dw, { what: 'dW' });
        expectClose(out.subarray(s.biasOffset, s.biasOffset + N), ref.db, { what: 'db' });
        // the kernel writes only W and b: the gaps of the flat buffer keep their poison
        expect(Number.isNaN(out[0]!) && Number.isNaN(out[s.biasOffset - 1]!)).toBe(true);
      });

      it(`backward_fused ${tag}: dX and the SGD-momentum update of W and b in one dispatch`, async () => {
        const rng = new Rng(M * 3 + N * 5 + K * 7);
        const s = layout(M, N, K, weightOffset);
        const x = randomArray(rng, M * K);
        const params = randomArray(rng, s.total, 0.5);
        const velocity = randomArray(rng, s.total, 0.1);
        const dy = randomArray(rng, M * N);
        const opt = sgd({ lr: 0.05, momentum: 0.9, weightDecay: 0.01 });
        const bindings = optimizerBindings(gpu, opt, s.total, [velocity], opt.lr, 2);
        const kernel = await gpu.pipelines.get(
          denseFamily(tuning),
          'backward_fused',
          denseOverrides(tuning, { maskRelu: true, rule: 'sgd', vec4 }),
        );
        const dx = storageBuffer(gpu, 'dx', M * K);
        const paramsOut = storageBuffer(gpu, 'params_out', s.total);
        await runKernel(
          gpu,
          kernel,
          {
            x: storageBuffer(gpu, 'x', x),
            params: storageBuffer(gpu, 'p', params),
            dy: storageBuffer(gpu, 'dy', dy),
            dx,
            params_out: paramsOut,
            dims: dimsBuffer(gpu, s),
            ...bindings.resources,
          },
          backwardFusedGrid(s, tuning),
          bindings.offsets,
        );
        const w = params.subarray(s.weightOffset, s.weightOffset + N * K);
        expectClose(await readF32(gpu, dx), gradInputRef(dy, w, x, M, N, K, true), { what: 'dX' });
        const { dw, db } = gradWeightRef(dy, x, M, N, K);
        const { w: expectedW, state: expectedState, update } = expectedUpdate(opt, params, [velocity], opt.lr, 2);
        for (let i = 0; i < N * K; i++) update(s.weightOffset + i, dw[i]!);
        for (let n = 0; n < N; n++) update(s.biasOffset + n, db[n]!);
        const outW = await readF32(gpu, paramsOut);
        const [outV] = await bindings.readState();
        const wEnd = s.weightOffset + N * K;
        expectClose(outW.subarray(s.weightOffset, wEnd), expectedW.subarray(s.weightOffset, wEnd), { what: 'W after SGD' });
        expectClose(outW.subarray(s.biasOffset, s.biasOffset + N), expectedW.subarray(s.biasOffset, s.biasOffset + N), {
          what: 'b after SGD',
        });
        expect(Number.isNaN(outW[wEnd]!), 'params_out outside W and b is untouched').toBe(true);
        expectClose(outV!, expectedState[0]!, { what: 'momentum buffer' });
        expect(await bindings.nonfinite(), 'no non-finite flag').toBe(0);
      });
    }
  }

  const adapter = (description: string, isFallback: boolean, subgroupMinSize = 0): AdapterSummary => ({
    vendor: '',
    architecture: '',
    device: '',
    description,
    isFallback,
    features: subgroupMinSize > 0 ? ['subgroups'] : [],
    subgroupMinSize,
    maxStorageBuffersPerShaderStage: subgroupMinSize > 0 ? 16 : 8,
    maxComputeWorkgroupStorageSize: 16384,
  });

  it("binds the subgroup kernels' vec4 views to the buffers given for x and params, and only so", async () => {
    const t = SUBGROUP_TUNING.matmul;
    const kernel = await gpu.pipelines.get(denseFamily(t), 'forward', denseOverrides(t, { vec4: true }));
    const s = layout(1, 4, 4, 4);
    const x = storageBuffer(gpu, 'x', 4);
    const resources = { x, params: storageBuffer(gpu, 'p', s.total), y: storageBuffer(gpu, 'y', 4), dims: dimsBuffer(gpu, s) };
    expect(() => bindGroup(gpu.device, kernel, 'views', resources)).not.toThrow();
    expect(() => bindGroup(gpu.device, kernel, 'views', { ...resources, x4: x })).toThrow(/no binding named x4/);
    const source = '@group(0) @binding(1) var<storage, read> v: array<f32>;\nfn e() {}';
    const view = (of: string) =>
      defineFamily({ name: 'bad', source, entries: { e: { bindings: { v: { binding: 1, access: 'read', view: of } } } } });
    expect(() => view('w')).toThrow(/read-only view of another binding/);
  });

  it('gives GPUs the split kernels, lavapipe the subgroup kernels (else the tiles) and SwiftShader the row blocks', () => {
    expect(tuningFor(adapter('NVIDIA H100 80GB HBM3', false, 32))).toBe(SPLIT_TUNING);
    expect(tuningFor(adapter('llvmpipe (LLVM 19.1.7, 256 bits)', true, 8))).toBe(SUBGROUP_TUNING);
    expect(tuningFor(adapter('llvmpipe (LLVM 19.1.7, 512 bits)', true, 16))).toBe(SUBGROUP_TUNING);
    // a workgroup of 8 must be one subgroup: 128-bit llvmpipe (4 lanes), or no subgroups at all, keeps the tiles
    expect(tuningFor(adapter('llvmpipe (LLVM 19.1.7, 128 bits)', true, 4))).toBe(TILES_TUNING);
    expect(tuningFor(adapter('llvmpipe (LLVM 19.1.7, 256 bits)', true))).toBe(TILES_TUNING);
    // nor where the device cannot bind the subgroup kernels' 9 storage buffers
    expect(SUBGROUP_STORAGE_BUFFERS).toBe(9);
    expect(tuningFor({ ...adapter('llvmpipe (LLVM 19.1.7, 256 bits)', true, 8), maxStorageBuffersPerShaderStage: 8 })).toBe(TILES_TUNING);
    expect(tuningFor(adapter('SwiftShader Device (Subzero)', true))).toBe(ROWS_TUNING);
    // within WebGPU's default limits, which the engine's devices keep
    expect(splitPartialFloats(SPLIT_TUNING.matmul) * 4).toBeLessThanOrEqual(16384);
    expect(SPLIT_TUNING.matmul.wgX * SPLIT_TUNING.matmul.wgY * SPLIT_TUNING.matmul.split).toBeLessThanOrEqual(256);
  });

  it('sizes grids to cover every output element, and no more than one extra workgroup per dimension', () => {
    const s = layout(65, 10, 7);
    expect(forwardGrid(s, tunings[0]!)).toEqual([1, Math.ceil(65 / (tunings[0]!.wgY * TILES.tiles[0])), 1]);
    expect(forwardGrid(s, tunings[2]!)).toEqual([1, Math.ceil(65 / ROW_BLOCK), 1]);
    // a rows lane computes LANE_COLS columns, WG_X apart
    expect(gradWeightGrid(layout(65, 10, 130), tunings[2]!)).toEqual([Math.ceil(130 / (16 * LANE_COLS)), 1, 1]);
    // the split weight kernels carry db as an extra column K
    expect(gradWeightGrid(s, tunings[3]!)).toEqual([Math.ceil(8 / (4 * TILES.split[1])), Math.ceil(10 / (4 * TILES.split[0])), 1]);
  });

  it("fuses the update unless the adapter's tuning runs it as a pass (SwiftShader); the option overrides either", () => {
    const fused = (description: string, isFallback: boolean, fusedUpdate?: boolean) =>
      configFrom(
        { adapter: adapter(description, isFallback) } as Gpu,
        {
          model: mlp([4, 3, 2]),
          optimizer: sgd({ lr: 0.1 }),
          ...(fusedUpdate !== undefined ? { fusedUpdate } : {}),
        } as Parameters<typeof configFrom>[1],
      ).fusedUpdate;
    expect(fused('NVIDIA H100 80GB HBM3', false)).toBe(true);
    expect(fused('llvmpipe (LLVM 19.1.7, 256 bits)', true)).toBe(true);
    expect(fused('SwiftShader Device (Subzero)', true)).toBe(false);
    expect(fused('SwiftShader Device (Subzero)', true, true)).toBe(true);
    expect(fused('llvmpipe (LLVM 19.1.7, 256 bits)', true, false)).toBe(false);
  });
});
