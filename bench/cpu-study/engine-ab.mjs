/* global GPUBufferUsage, GPUShaderStage, performance -- installed by webgpu's globals, and Node's */
// A/B of the engine's forward and backward_fused entry points (shaders/dense_tiles.wgsl vs the
// prototype bench/cpu-study/dense_lanes.wgsl),
// interleaved in one process at the seed's forward shapes. node bench/cpu-study/engine-ab.mjs
import { readFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
globalThis.keepGpu = gpu; // the instance must outlive every promise (it was collected: crashes in ProcessEvents)
const adapter = await gpu.requestAdapter();
globalThis.keepAdapter = adapter;
const device = await adapter.requestDevice();
// the engine's tiles module as src/kernels/dense.ts composes it (family file first, then shaders/lib),
// with the Hyper record src/kernels/records.ts emits written out
const wgsl = (f) => readFileSync(f, 'utf8');
const tiles = [
  wgsl('shaders/dense_tiles.wgsl'),
  ...['dense_tile', 'dense_common', 'fused_update', 'optimizer_update'].map((f) => wgsl(`shaders/lib/${f}.wgsl`)),
  'struct Hyper { lr: f32, momentum: f32, weight_decay: f32, _pad0: f32 }',
].join('\n');
const lanes = readFileSync('bench/cpu-study/dense_lanes.wgsl', 'utf8');
const U = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const BGL = device.createBindGroupLayout({
  entries: [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
  ],
});
const layers = [784, 512, 256, 128, 64, 10];
const ro = (binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } });
const rw = (binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
const FUSED = device.createBindGroupLayout({
  entries: [ro(0), ro(1), ro(3), rw(4), rw(6), rw(7), { binding: 8, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }],
});
const hyper = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
device.queue.writeBuffer(hyper, 0, new Float32Array([0.01, 0.5, 0, 0]));
const only = process.argv[2] ?? 'fwd bwd';
const cases = [];
for (let l = 0; l < 5; l++) {
  const K = layers[l],
    N = layers[l + 1],
    M = 64;
  const mk = (n) => {
    const b = device.createBuffer({ size: n * 4, usage: U() });
    device.queue.writeBuffer(
      b,
      0,
      new Float32Array(n).map((_, i) => Math.sin(i)),
    );
    return b;
  };
  const xb = mk(M * K),
    pb = mk(N * K + N),
    yb = mk(M * N);
  const dyb = mk(M * N),
    dxb = mk(M * K),
    pob = mk(N * K + N),
    vb = mk(N * K + N);
  if (only.includes('bwd') && l > 0)
    for (const [name, src, consts, grid] of [
      ['tiles', tiles, { WG_X: 8, WG_Y: 8 }, [Math.ceil(K / 32), Math.ceil(N / 32) + Math.ceil(M / 32)]],
      ['lanes', lanes, { WG_X: 8 }, [Math.ceil(K / 64), Math.ceil(N / 16) + Math.ceil(M / 16)]],
    ]) {
      const pipeline = device.createComputePipeline({
        layout: device.createPipelineLayout({ bindGroupLayouts: [FUSED] }),
        compute: {
          module: device.createShaderModule({ code: src }),
          entryPoint: 'backward_fused',
          constants: { M, N, K, W_OFF: 0, B_OFF: N * K, MASK_RELU: 1, ...consts },
        },
      });
      const group = device.createBindGroup({
        layout: FUSED,
        entries: [
          [0, xb],
          [1, pb],
          [3, dyb],
          [4, dxb],
          [6, pob],
          [7, vb],
          [8, hyper],
        ].map(([binding, buffer]) => ({ binding, resource: { buffer } })),
      });
      const run = (reps) => {
        const e = device.createCommandEncoder();
        const p = e.beginComputePass();
        p.setPipeline(pipeline);
        p.setBindGroup(0, group);
        for (let i = 0; i < reps; i++) p.dispatchWorkgroups(grid[0], grid[1]);
        p.end();
        device.queue.submit([e.finish()]);
        return device.queue.onSubmittedWorkDone();
      };
      const t0 = performance.now();
      await run(1);
      console.log(`bwd l${l + 1} ${name} first dispatch ${(performance.now() - t0).toFixed(1)} ms`);
      cases.push({ name: `bwd l${l + 1} ${name}`, run, times: [], keep: [pipeline, group] });
    }
  if (only.includes('fwd'))
    for (const [name, src, consts, grid] of [
      ['tiles', tiles, { WG_X: 8, WG_Y: 8 }, [Math.ceil(N / 32), Math.ceil(M / 32)]],
      ['lanes', lanes, { WG_X: 8 }, [Math.ceil(N / 64), Math.ceil(M / 16)]],
    ]) {
      const pipeline = device.createComputePipeline({
        layout: device.createPipelineLayout({ bindGroupLayouts: [BGL] }),
        compute: {
          module: device.createShaderModule({ code: src }),
          entryPoint: 'forward',
          constants: { M, N, K, W_OFF: 0, B_OFF: N * K, RELU: 1, ...consts },
        },
      });
      const group = device.createBindGroup({
        layout: BGL,
        entries: [xb, pb, yb].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const run = (reps) => {
        const e = device.createCommandEncoder();
        const p = e.beginComputePass();
        p.setPipeline(pipeline);
        p.setBindGroup(0, group);
        for (let i = 0; i < reps; i++) p.dispatchWorkgroups(grid[0], grid[1]);
        p.end();
        device.queue.submit([e.finish()]);
        return device.queue.onSubmittedWorkDone();
      };
      await run(1);
      cases.push({ name: `fwd l${l + 1} ${name}`, run, times: [], keep: [pipeline, group, xb, pb, yb] });
    }
}
for (let s = 0; s < 5; s++)
  for (const c of cases) {
    const t = performance.now();
    await c.run(4);
    c.times.push((performance.now() - t) / 4);
  }
for (const c of cases)
  console.log(
    c.name.padEnd(16),
    'min',
    Math.min(...c.times).toFixed(2),
    'ms  median',
    [...c.times].sort((a, b) => a - b)[2].toFixed(2),
    'ms',
  );
process.exit(0);
