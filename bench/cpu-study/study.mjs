/* global GPUBufferUsage, GPUMapMode, GPUShaderStage, GPUTextureUsage, performance -- installed by webgpu's globals, and Node's */
// Standalone study of matmul shapes on lavapipe (llvmpipe): every candidate is checked against a
// float64 reference, then timed interleaved with the others in one process (REPS dispatches per
// submit; median and min over SAMPLES submits: on a shared machine the min is the steadier one).
// Run: node bench/cpu-study/study.mjs ['fwd l3'[:variant-substring]]
// Shapes are the seed's GEMMs at batch 64 (env M: another batch, e.g. M=16 for one 64 KiB uniform
// window of l1's X), in one generic form o[i,j] = Σ_r u[i,r]·v[j,r] with strides: fwd (Y = X·Wᵀ),
// fwdT (same with W transposed), gin (dX = dY·W), gw / gwT (dW = dYᵀ·X, lanes along k or along n).
// Variants (env lists "A,B,WG ..."):
//   tiles4x4      the engine's tiles kernel before 2026-12-02 (4×4 per lane, 8×8 workgroup)
//   tiles (TILES "TM,TN,WX,WY") TM×TN per lane in WX×WY workgroups (the engine's now: 8,8,8,2)
//   lane  (SHAPES) A rows per workgroup (broadcast operand), B columns per lane WG apart, scalar loads
//   dot   (DOTS)   as lane, both operands read as vec4 along the reduction (fwd only)
//   vout  (VOUTS)  each lane 4 adjacent outputs as a vec4 (v contiguous along j)
//   ubo   (UBOS)   as dot, with the broadcast operand from a 64 KiB uniform binding
//   uvout (UVOUTS) the broadcast operand as uniform scalars, v as vec4 along j (any strides)
//   sg    (SGS)    u shared by subgroupBroadcast from one vec4 load per lane (NOBCAST=1 adds an
//                  unchecked twin without the broadcast, to time the loads alone)
//   tiles4v (TILES4 "TM,TN,WX,WY") as tiles, both operands vec4 along the reduction (fwd only)
//   tex   (TEXS "TM,TN,WX,WY") as tiles, both operands r32float sampled textures (textureLoad)
//   unrolled (UNROLL) lane with the reduction loop written out (compiles for minutes: do not)
//   usel  (USELS)  every load the same address in all lanes, each lane's column picked by selects
//                  on its lane index (Mesa 25.0 still loops over the lanes: no address is "always
//                  uniform" unless it is made of constants and push constants; 4-5× slower)
//   uu    (UUS "TM,TN,WX,WY") the tiles with both operands from 64 KiB uniform bindings (slower)
//   sgs   (SGSS "TM,TN") one subgroup of 8 lanes owns TM rows × 8·TN columns: lane l loads rows
//                  l + 8q of u and subgroupBroadcast shares them; scalar loads, any strides (the
//                  engine's `subgroup` variant, shaders/dense_subgroup.wgsl)
//   sgt   (SGTS)   as sgs with both operands vec4 along r (fwd only); sgq the same from array<f32>
//                  as 4 scalars (SGQS); sgv (SGVS "TM,TN4") v as vec4 along j (VSJ = 1)
// Columns: process CPU time (lavapipe's threads run in the process), median and min wall time.
// SwiftShader instead of lavapipe: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (Debian's
// Chromium ships the ICD). There the array-indexed forms (tiles*) are 5-10x slower than `lane`, whose
// accumulators are named variables: SwiftShader keeps loop-indexed private arrays in memory.
// Findings: bench/RESULTS.md, 2026-12-01 and 2026-12-02 sections.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
// Keep the instance reachable: when V8 collected it, Dawn's ProcessEvents crashed on freed memory
// (random segfaults and futex/mutex assertions a few pipelines in).
globalThis.keepGpu = gpu;
const adapter = await gpu.requestAdapter();
globalThis.keepAdapter = adapter;
const device = await adapter.requestDevice({
  requiredFeatures: adapter.features.has('subgroups') ? ['subgroups'] : [],
  requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
});
device.addEventListener('uncapturederror', (e) => console.error('GPU error', e.error.message));
console.log(adapter.info?.description ?? '');

const M = Number(process.env.M ?? 64);
const LAYERS = [784, 512, 256, 128, 64, 10];
const filter = process.argv[2] ?? '';
const REPS = Number(process.env.REPS ?? 20);
const SAMPLES = Number(process.env.SAMPLES ?? 7);

function rand(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}
const USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
function buffer(data) {
  const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: USAGE() });
  device.queue.writeBuffer(b, 0, data);
  return b;
}
async function read(b, n) {
  const r = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const e = device.createCommandEncoder();
  e.copyBufferToBuffer(b, 0, r, 0, n * 4);
  device.queue.submit([e.finish()]);
  await r.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(r.getMappedRange().slice(0));
  r.unmap();
  r.destroy();
  return out;
}

// generic lane kernel: o[i*OSI + j*OSJ] = Σ_r u[i*USI + r*USR] · v[j*VSJ + r*VSR]
//   i: A per lane, uniform across the workgroup (from workgroup_id.y)  -> u loads are broadcasts
//   j: B per lane, lanes along j (lane + t*WG)                         -> v loads are gathers
function laneKernel({ A, B, WG, unroll }) {
  const L = [];
  L.push(`override I: u32; override J: u32; override R: u32;`);
  L.push(`override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;`);
  L.push(`@group(0) @binding(0) var<storage, read> u: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> v: array<f32>;`);
  L.push(`@group(0) @binding(2) var<storage, read_write> o: array<f32>;`);
  L.push(`@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${A}u; let j0 = wid.x * ${WG * B}u + lid.x;`);
  for (let i = 0; i < A; i++) L.push(`  let ub${i} = min(i0 + ${i}u, I - 1u) * USI;`);
  for (let t = 0; t < B; t++) L.push(`  let vb${t} = min(j0 + ${t * WG}u, J - 1u) * VSJ;`);
  for (let i = 0; i < A; i++) for (let t = 0; t < B; t++) L.push(`  var a${i}_${t} = 0.0;`);
  if (unroll) {
    for (let r = 0; r < unroll; r++) {
      L.push(`  {`);
      for (let t = 0; t < B; t++) L.push(`    let b${t} = v[vb${t} + ${r}u * VSR];`);
      for (let i = 0; i < A; i++) {
        L.push(`    let x${i} = u[ub${i} + ${r}u * USR];`);
        for (let t = 0; t < B; t++) L.push(`    a${i}_${t} = fma(x${i}, b${t}, a${i}_${t});`);
      }
      L.push(`  }`);
    }
  } else {
    L.push(`  for (var r = 0u; r < R; r++) {`);
    for (let t = 0; t < B; t++) L.push(`    let b${t} = v[vb${t} + r * VSR];`);
    for (let i = 0; i < A; i++) {
      L.push(`    let x${i} = u[ub${i} + r * USR];`);
      for (let t = 0; t < B; t++) L.push(`    a${i}_${t} = fma(x${i}, b${t}, a${i}_${t});`);
    }
    L.push(`  }`);
  }
  for (let t = 0; t < B; t++) {
    L.push(`  if (j0 + ${t * WG}u < J) {`);
    for (let i = 0; i < A; i++) L.push(`    if (i0 + ${i}u < I) { o[(i0 + ${i}u) * OSI + (j0 + ${t * WG}u) * OSJ] = a${i}_${t}; }`);
    L.push(`  }`);
  }
  L.push(`}`);
  return L.join('\n');
}

// the engine's tiles kernel shape, generic strides: lane (x,y) owns a TM×TN tile, workgroup WX×WY
function tilesKernel(TM = 4, TN = 4, WX = 8, WY = 8) {
  return `override I: u32; override J: u32; override R: u32;
override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;
@group(0) @binding(0) var<storage, read> u: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(${WX}, ${WY}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i0 = gid.y * ${TM}u; let j0 = gid.x * ${TN}u;
  if (i0 >= I || j0 >= J) { return; }
  var ub: array<u32, ${TM}>; var vb: array<u32, ${TN}>;
  for (var i = 0u; i < ${TM}u; i++) { ub[i] = min(i0 + i, I - 1u) * USI; }
  for (var i = 0u; i < ${TN}u; i++) { vb[i] = min(j0 + i, J - 1u) * VSJ; }
  var acc: array<array<f32, ${TN}>, ${TM}>;
  for (var r = 0u; r < R; r++) {
    var a: array<f32, ${TM}>; var b: array<f32, ${TN}>;
    for (var i = 0u; i < ${TM}u; i++) { a[i] = u[ub[i] + r * USR]; }
    for (var i = 0u; i < ${TN}u; i++) { b[i] = v[vb[i] + r * VSR]; }
    for (var i = 0u; i < ${TM}u; i++) { for (var t = 0u; t < ${TN}u; t++) { acc[i][t] = fma(a[i], b[t], acc[i][t]); } }
  }
  for (var i = 0u; i < ${TM}u; i++) { for (var t = 0u; t < ${TN}u; t++) {
    if (i0 + i < I && j0 + t < J) { o[(i0 + i) * OSI + (j0 + t) * OSJ] = acc[i][t]; } } }
}`;
}

// problems: forward Y = X·Wᵀ, grad_input dX = dY·W, grad_weight dW = dYᵀ·X, per layer
function problems() {
  const out = [];
  for (let l = 0; l < LAYERS.length - 1; l++) {
    const K = LAYERS[l],
      N = LAYERS[l + 1];
    // forward: i = m (X rows, broadcast), j = n (W rows, gathered along K), r = k
    out.push({ name: `fwd l${l + 1}`, I: M, J: N, R: K, USI: K, USR: 1, VSJ: K, VSR: 1, OSI: N, OSJ: 1, us: M * K, vs: N * K });
    // forward with transposed W (K,N): j = n contiguous
    out.push({ name: `fwdT l${l + 1}`, I: M, J: N, R: K, USI: K, USR: 1, VSJ: 1, VSR: N, OSI: N, OSJ: 1, us: M * K, vs: N * K });
    if (l > 0) {
      // grad_input: i = m (dY rows, broadcast), j = k (W columns), r = n
      out.push({ name: `gin l${l + 1}`, I: M, J: K, R: N, USI: N, USR: 1, VSJ: 1, VSR: K, OSI: K, OSJ: 1, us: M * N, vs: N * K });
    }
    // grad_weight: i = n (dY columns, broadcast), j = k (X columns), r = m
    out.push({ name: `gw l${l + 1}`, I: N, J: K, R: M, USI: 1, USR: N, VSJ: 1, VSR: K, OSI: K, OSJ: 1, us: M * N, vs: M * K });
    // grad_weight, lanes along n: i = k (X columns broadcast), j = n (dY columns), r = m
    out.push({ name: `gwT l${l + 1}`, I: K, J: N, R: M, USI: 1, USR: K, VSJ: 1, VSR: N, OSI: 1, OSJ: K, us: M * K, vs: M * N });
  }
  return out;
}

function reference(p, u, v) {
  const o = new Float64Array(p.I * p.J);
  for (let i = 0; i < p.I; i++)
    for (let j = 0; j < p.J; j++) {
      let s = 0;
      for (let r = 0; r < p.R; r++) s += u[i * p.USI + r * p.USR] * v[j * p.VSJ + r * p.VSR];
      o[i * p.OSI + j * p.OSJ] = s;
    }
  return o;
}

/** A variant list from the environment ("A,B,WG A,B,WG ..."), or its default. */
function envShapes(name, fallback) {
  return (process.env[name] ?? fallback)
    .split(' ')
    .filter(Boolean)
    .map((s) => s.split(',').map(Number));
}

const variants = [{ name: 'tiles4x4', src: tilesKernel(), grid: (p) => [Math.ceil(p.J / 32), Math.ceil(p.I / 32)] }];
for (const [TM, TN, WX, WY] of envShapes('TILES', '')) {
  variants.push({
    name: `tiles${TM}x${TN} wg${WX}x${WY}`,
    src: tilesKernel(TM, TN, WX, WY),
    grid: (p) => [Math.ceil(p.J / (TN * WX)), Math.ceil(p.I / (TM * WY))],
  });
}
for (const [A, B, WG] of envShapes('SHAPES', '16,1,64 8,1,64 8,2,32 16,1,16 16,2,16 24,1,32 32,1,32 8,4,16 4,4,16')) {
  variants.push({
    name: `lane A${A} B${B} wg${WG}`,
    src: laneKernel({ A, B, WG }),
    grid: (p) => [Math.ceil(p.J / (WG * B)), Math.ceil(p.I / A)],
  });
}

const HEAD = `override I: u32; override J: u32; override R: u32;
override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;
@group(0) @binding(0) var<storage, read> u: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
`;
// dot form: both operands contiguous along r (USR = VSR = 1), vec4 loads along r; lane = j (B per lane), A i's per workgroup
function dotKernel({ A, B, WG }) {
  const L = [HEAD];
  L.push(`@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${A}u; let j0 = wid.x * ${WG * B}u + lid.x;`);
  for (let i = 0; i < A; i++) L.push(`  let ub${i} = min(i0 + ${i}u, I - 1u) * (USI / 4u);`);
  for (let t = 0; t < B; t++) L.push(`  let vb${t} = min(j0 + ${t * WG}u, J - 1u) * (VSJ / 4u);`);
  for (let i = 0; i < A; i++) for (let t = 0; t < B; t++) L.push(`  var a${i}_${t} = 0.0;`);
  L.push(`  for (var r = 0u; r < R / 4u; r++) {`);
  for (let t = 0; t < B; t++) L.push(`    let b${t} = v[vb${t} + r];`);
  for (let i = 0; i < A; i++) {
    L.push(`    let x${i} = u[ub${i} + r];`);
    for (let t = 0; t < B; t++) L.push(`    a${i}_${t} += dot(x${i}, b${t});`);
  }
  L.push(`  }`);
  for (let t = 0; t < B; t++)
    for (let i = 0; i < A; i++)
      L.push(`  if (j0 + ${t * WG}u < J && i0 + ${i}u < I) { o[(i0 + ${i}u) * OSI + (j0 + ${t * WG}u) * OSJ] = a${i}_${t}; }`);
  L.push(`}`);
  return L.join('\n');
}
// vec-out form: v contiguous along j (VSJ = 1), lane owns 4 consecutive j; u scalar (S) or vec4 along r (USR = 1)
function vecOutKernel({ A, WG, u4 }) {
  const L = [
    HEAD.replace(
      'var<storage, read> u: array<vec4<f32>>',
      u4 ? 'var<storage, read> u: array<vec4<f32>>' : 'var<storage, read> u: array<f32>',
    ),
  ];
  L.push(`@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${A}u; let j4 = min(wid.x * ${WG}u + lid.x, J / 4u - 1u);`);
  for (let i = 0; i < A; i++) L.push(`  let ub${i} = min(i0 + ${i}u, I - 1u) * USI;`);
  for (let i = 0; i < A; i++) L.push(`  var a${i} = vec4<f32>();`);
  if (!u4) {
    L.push(`  for (var r = 0u; r < R; r++) {`);
    L.push(`    let b = v[r * (VSR / 4u) + j4];`);
    for (let i = 0; i < A; i++) L.push(`    a${i} = fma(vec4(u[ub${i} + r * USR]), b, a${i});`);
    L.push(`  }`);
  } else {
    L.push(`  for (var r = 0u; r < R; r += 4u) {`);
    for (let s = 0; s < 4; s++) L.push(`    let b${s} = v[(r + ${s}u) * (VSR / 4u) + j4];`);
    for (let i = 0; i < A; i++) {
      L.push(`    let x${i} = u[(ub${i} + r) / 4u];`);
      for (let s = 0; s < 4; s++) L.push(`    a${i} = fma(vec4(x${i}[${s}]), b${s}, a${i});`);
    }
    L.push(`  }`);
  }
  L.push(`  if (wid.x * ${WG}u + lid.x >= J / 4u) { return; }`);
  for (let i = 0; i < A; i++)
    L.push(`  if (i0 + ${i}u < I) { for (var c = 0u; c < 4u; c++) { o[(i0 + ${i}u) * OSI + (j4 * 4u + c) * OSJ] = a${i}[c]; } }`);
  L.push(`}`);
  return L.join('\n');
}
for (const [A, B, WG] of envShapes('DOTS', '4,4,16 4,2,16 2,4,16 8,2,8 4,4,8')) {
  variants.push({
    name: `dot A${A} B${B} wg${WG}`,
    only: (p) => p.USR === 1 && p.VSR === 1,
    src: dotKernel({ A, B, WG }),
    grid: (p) => [Math.ceil(p.J / (WG * B)), Math.ceil(p.I / A)],
  });
}
for (const [A, WG, u4] of envShapes('VOUTS', '4,16,0 8,16,0 4,16,1 8,8,1 2,16,1')) {
  variants.push({
    name: `vout${u4 ? '4' : 'S'} A${A} wg${WG}`,
    only: (p) => p.VSJ === 1 && p.J % 4 === 0 && (!u4 || p.USR === 1),
    src: vecOutKernel({ A, WG, u4 }),
    grid: (p) => [Math.ceil(p.J / 4 / WG), Math.ceil(p.I / A)],
  });
}

// uniform-buffer operand: u (the broadcast one) from a 64 KiB uniform binding, v per lane from storage
function uboKernel({ A, B, WG }) {
  const L = [HEAD.replace('var<storage, read> u: array<vec4<f32>>', 'var<uniform> u: array<vec4<f32>, 4096>')];
  L.push(`@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${A}u; let j0 = wid.x * ${WG * B}u + lid.x;`);
  for (let i = 0; i < A; i++) L.push(`  let ub${i} = min(i0 + ${i}u, I - 1u) * (USI / 4u);`);
  for (let t = 0; t < B; t++) L.push(`  let vb${t} = min(j0 + ${t * WG}u, J - 1u) * (VSJ / 4u);`);
  for (let i = 0; i < A; i++) for (let t = 0; t < B; t++) L.push(`  var a${i}_${t} = 0.0;`);
  L.push(`  for (var r = 0u; r < R / 4u; r++) {`);
  for (let t = 0; t < B; t++) L.push(`    let b${t} = v[vb${t} + r];`);
  for (let i = 0; i < A; i++) {
    L.push(`    let x${i} = u[ub${i} + r];`);
    for (let t = 0; t < B; t++) L.push(`    a${i}_${t} += dot(x${i}, b${t});`);
  }
  L.push(`  }`);
  for (let t = 0; t < B; t++)
    for (let i = 0; i < A; i++)
      L.push(`  if (j0 + ${t * WG}u < J && i0 + ${i}u < I) { o[(i0 + ${i}u) * OSI + (j0 + ${t * WG}u) * OSJ] = a${i}_${t}; }`);
  L.push(`}`);
  return L.join('\n');
}
for (const [A, B, WG] of envShapes('UBOS', '16,1,16 8,2,16 16,1,64 32,1,16 4,4,16')) {
  variants.push({
    name: `ubo A${A} B${B} wg${WG}`,
    ubo: true,
    only: (p) => p.USR === 1 && p.VSR === 1 && p.us * 4 <= 65536,
    src: uboKernel({ A, B, WG }),
    grid: (p) => [Math.ceil(p.J / (WG * B)), Math.ceil(p.I / A)],
  });
}
// uniform-buffer broadcast operand, any strides: u (rows i uniform across the workgroup) read as
// scalars from a 64 KiB uniform binding, v per lane from storage as B vec4s along j (VSJ = 1), the
// lane owning columns 4·(lane + t·WG) .. +3: per step of r, B vec4 lane loads for 4·A·B FMAs.
function uvoutKernel({ A, B, WG }) {
  const L = [HEAD.replace('var<storage, read> u: array<vec4<f32>>', 'var<uniform> u: array<vec4<f32>, 4096>')];
  L.push(`@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${A}u; let jv = wid.x * ${WG * B}u + lid.x;`);
  for (let i = 0; i < A; i++) L.push(`  let ub${i} = min(i0 + ${i}u, I - 1u) * USI;`);
  for (let t = 0; t < B; t++) L.push(`  let vb${t} = min(jv + ${t * WG}u, J / 4u - 1u);`);
  for (let i = 0; i < A; i++) for (let t = 0; t < B; t++) L.push(`  var a${i}_${t} = vec4<f32>();`);
  L.push(`  for (var r = 0u; r < R; r++) {`);
  for (let t = 0; t < B; t++) L.push(`    let b${t} = v[r * (VSR / 4u) + vb${t}];`);
  for (let i = 0; i < A; i++) {
    L.push(`    let e${i} = ub${i} + r * USR; let x${i} = u[e${i} >> 2u][e${i} & 3u];`);
    for (let t = 0; t < B; t++) L.push(`    a${i}_${t} = fma(vec4(x${i}), b${t}, a${i}_${t});`);
  }
  L.push(`  }`);
  for (let t = 0; t < B; t++)
    for (let i = 0; i < A; i++)
      L.push(
        `  if (jv + ${t * WG}u < J / 4u && i0 + ${i}u < I) { for (var c = 0u; c < 4u; c++) { o[(i0 + ${i}u) * OSI + ((jv + ${t * WG}u) * 4u + c) * OSJ] = a${i}_${t}[c]; } }`,
      );
  L.push(`}`);
  return L.join('\n');
}
for (const [A, B, WG] of envShapes('UVOUTS', '8,1,8 8,2,8 16,1,8 4,2,8')) {
  variants.push({
    name: `uvout A${A} B${B} wg${WG}`,
    ubo: true,
    only: (p) => p.VSJ === 1 && p.J % 4 === 0 && p.VSR % 4 === 0 && p.us * 4 <= 65536,
    src: uvoutKernel({ A, B, WG }),
    grid: (p) => [Math.ceil(p.J / 4 / (WG * B)), Math.ceil(p.I / A)],
  });
}
// uniform-select form, any strides: every load has the same address in all lanes (llvmpipe then
// loads once and broadcasts, instead of looping over the lanes), and each lane picks its own column
// of v from the WG broadcast values with a chain of selects on its lane index. Workgroup: A rows i
// (uniform), B·WG columns j; lane l owns j0 + t·WG + l.
function uselKernel({ A, B, WG }) {
  const L = [];
  L.push(`override I: u32; override J: u32; override R: u32;`);
  L.push(`override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;`);
  L.push(`@group(0) @binding(0) var<storage, read> u: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> v: array<f32>;`);
  L.push(`@group(0) @binding(2) var<storage, read_write> o: array<f32>;`);
  L.push(`@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${A}u; let j0 = wid.x * ${WG * B}u;`);
  for (let c = 1; c < WG; c++) L.push(`  let m${c} = lid.x == ${c}u;`);
  for (let i = 0; i < A; i++) L.push(`  let ub${i} = min(i0 + ${i}u, I - 1u) * USI;`);
  for (let t = 0; t < B; t++) for (let c = 0; c < WG; c++) L.push(`  let vb${t}_${c} = min(j0 + ${t * WG + c}u, J - 1u) * VSJ;`);
  for (let i = 0; i < A; i++) for (let t = 0; t < B; t++) L.push(`  var a${i}_${t} = 0.0;`);
  L.push(`  for (var r = 0u; r < R; r++) {`);
  for (let t = 0; t < B; t++) {
    L.push(`    var b${t} = v[vb${t}_0 + r * VSR];`);
    for (let c = 1; c < WG; c++) L.push(`    b${t} = select(b${t}, v[vb${t}_${c} + r * VSR], m${c});`);
  }
  for (let i = 0; i < A; i++) {
    L.push(`    let x${i} = u[ub${i} + r * USR];`);
    for (let t = 0; t < B; t++) L.push(`    a${i}_${t} = fma(x${i}, b${t}, a${i}_${t});`);
  }
  L.push(`  }`);
  for (let t = 0; t < B; t++) {
    L.push(`  let jl${t} = j0 + ${t * WG}u + lid.x;`);
    L.push(`  if (jl${t} < J) {`);
    for (let i = 0; i < A; i++) L.push(`    if (i0 + ${i}u < I) { o[(i0 + ${i}u) * OSI + jl${t} * OSJ] = a${i}_${t}; }`);
    L.push(`  }`);
  }
  L.push(`}`);
  return L.join('\n');
}
for (const [A, B, WG] of envShapes('USELS', '8,1,8 16,1,8 8,2,8')) {
  variants.push({
    name: `usel A${A} B${B} wg${WG}`,
    src: uselKernel({ A, B, WG }),
    grid: (p) => [Math.ceil(p.J / (WG * B)), Math.ceil(p.I / A)],
  });
}
// both operands from 64 KiB uniform bindings (llvmpipe gathers uniform loads without the per-lane
// branches of storage loads), the tiles' register tile otherwise; only where both fit one window.
function uuKernel(TM, TN, WX, WY) {
  return tilesKernel(TM, TN, WX, WY)
    .replace('var<storage, read> u: array<f32>', 'var<uniform> u: array<vec4<f32>, 4096>')
    .replace('var<storage, read> v: array<f32>', 'var<uniform> v: array<vec4<f32>, 4096>')
    .replace('a[i] = u[ub[i] + r * USR];', 'let e = ub[i] + r * USR; a[i] = u[e >> 2u][e & 3u];')
    .replace('b[i] = v[vb[i] + r * VSR];', 'let e = vb[i] + r * VSR; b[i] = v[e >> 2u][e & 3u];');
}
for (const [TM, TN, WX, WY] of envShapes('UUS', '8,8,8,2 4,4,8,8 8,4,8,2')) {
  variants.push({
    name: `uu${TM}x${TN} wg${WX}x${WY}`,
    uu: true,
    only: (p) => p.us <= 16384 && p.vs <= 16384,
    src: uuKernel(TM, TN, WX, WY),
    grid: (p) => [Math.ceil(p.J / (TN * WX)), Math.ceil(p.I / (TM * WY))],
  });
}
// subgroup tiles (fwd: USR = VSR = 1): one SIMD group of 8 lanes owns TM rows i × 8·TN columns j
// with scalar accumulators; lane l loads rows i0 + l + 8q of u as vec4 along r and shares them by
// subgroupBroadcast with a constant lane, so each value of the shared operand is loaded once per
// group instead of once per lane; v per lane as vec4 along r (columns j0 + l + 8t).
function sgtKernel({ TM, TN }) {
  const UR = TM / 8;
  const L = ['enable subgroups;', HEAD];
  L.push(`@compute @workgroup_size(8) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${TM}u; let j0 = wid.x * ${8 * TN}u + lid.x;`);
  for (let q = 0; q < UR; q++) L.push(`  let ub${q} = min(i0 + ${8 * q}u + lid.x, I - 1u) * (USI / 4u);`);
  for (let t = 0; t < TN; t++) L.push(`  let vb${t} = min(j0 + ${8 * t}u, J - 1u) * (VSJ / 4u);`);
  for (let i = 0; i < TM; i++) for (let t = 0; t < TN; t++) L.push(`  var a${i}_${t} = 0.0;`);
  L.push(`  for (var c = 0u; c < R / 4u; c++) {`);
  for (let q = 0; q < UR; q++) L.push(`    let x${q} = u[ub${q} + c];`);
  for (let t = 0; t < TN; t++) L.push(`    let b${t} = v[vb${t} + c];`);
  const C = 'xyzw';
  for (let s = 0; s < 4; s++)
    for (let i = 0; i < TM; i++) {
      L.push(`    { let xs = subgroupBroadcast(x${i >> 3}.${C[s]}, ${i & 7}u);`);
      for (let t = 0; t < TN; t++) L.push(`      a${i}_${t} = fma(xs, b${t}.${C[s]}, a${i}_${t});`);
      L.push(`    }`);
    }
  L.push(`  }`);
  for (let t = 0; t < TN; t++)
    for (let i = 0; i < TM; i++)
      L.push(`  if (j0 + ${8 * t}u < J && i0 + ${i}u < I) { o[(i0 + ${i}u) * OSI + (j0 + ${8 * t}u) * OSJ] = a${i}_${t}; }`);
  L.push(`}`);
  return L.join('\n');
}
for (const [TM, TN] of envShapes('SGTS', '8,2 16,1 16,2 8,3 8,4')) {
  variants.push({
    name: `sgt ${TM}x${TN}`,
    only: (p) => p.USR === 1 && p.VSR === 1 && p.R % 4 === 0,
    src: sgtKernel({ TM, TN }),
    grid: (p) => [Math.ceil(p.J / (8 * TN)), Math.ceil(p.I / TM)],
  });
}
// sgt with scalar loads, any strides: per step of r, lane l loads u at rows i0 + l + 8q (q < TM/8)
// and shares them by subgroupBroadcast; v per lane at its TN columns.
function sgsKernel({ TM, TN }) {
  const UR = TM / 8;
  const L = ['enable subgroups;'];
  L.push(`override I: u32; override J: u32; override R: u32;`);
  L.push(`override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;`);
  L.push(`@group(0) @binding(0) var<storage, read> u: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> v: array<f32>;`);
  L.push(`@group(0) @binding(2) var<storage, read_write> o: array<f32>;`);
  L.push(`@compute @workgroup_size(8) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${TM}u; let j0 = wid.x * ${8 * TN}u + lid.x;`);
  for (let q = 0; q < UR; q++) L.push(`  let ub${q} = min(i0 + ${8 * q}u + lid.x, I - 1u) * USI;`);
  for (let t = 0; t < TN; t++) L.push(`  let vb${t} = min(j0 + ${8 * t}u, J - 1u) * VSJ;`);
  for (let i = 0; i < TM; i++) for (let t = 0; t < TN; t++) L.push(`  var a${i}_${t} = 0.0;`);
  L.push(`  for (var r = 0u; r < R; r++) {`);
  for (let q = 0; q < UR; q++) L.push(`    let x${q} = u[ub${q} + r * USR];`);
  for (let t = 0; t < TN; t++) L.push(`    let b${t} = v[vb${t} + r * VSR];`);
  for (let i = 0; i < TM; i++) {
    L.push(`    { let xs = subgroupBroadcast(x${i >> 3}, ${i & 7}u);`);
    for (let t = 0; t < TN; t++) L.push(`      a${i}_${t} = fma(xs, b${t}, a${i}_${t});`);
    L.push(`    }`);
  }
  L.push(`  }`);
  for (let t = 0; t < TN; t++)
    for (let i = 0; i < TM; i++)
      L.push(`  if (j0 + ${8 * t}u < J && i0 + ${i}u < I) { o[(i0 + ${i}u) * OSI + (j0 + ${8 * t}u) * OSJ] = a${i}_${t}; }`);
  L.push(`}`);
  return L.join('\n');
}
for (const [TM, TN] of envShapes('SGSS', '16,2 16,3 16,4 24,2 32,2')) {
  variants.push({
    name: `sgs ${TM}x${TN}`,
    src: sgsKernel({ TM, TN }),
    grid: (p) => [Math.ceil(p.J / (8 * TN)), Math.ceil(p.I / TM)],
  });
}
// sgt with array<f32> operands read as 4 consecutive scalars (does NIR's load vectorizer merge them?)
function sgqKernel({ TM, TN }) {
  return sgtKernel({ TM, TN })
    .replace('var<storage, read> u: array<vec4<f32>>', 'var<storage, read> u: array<f32>')
    .replace('var<storage, read> v: array<vec4<f32>>', 'var<storage, read> v: array<f32>')
    .replaceAll('(USI / 4u)', 'USI')
    .replaceAll('(VSJ / 4u)', 'VSJ')
    .replace(
      /let x(\d+) = u\[ub(\d+) \+ c\];/g,
      (_, a, b) => `let e${a} = ub${b} + 4u * c; let x${a} = vec4(u[e${a}], u[e${a} + 1u], u[e${a} + 2u], u[e${a} + 3u]);`,
    )
    .replace(
      /let b(\d+) = v\[vb(\d+) \+ c\];/g,
      (_, a, b) => `let f${a} = vb${b} + 4u * c; let b${a} = vec4(v[f${a}], v[f${a} + 1u], v[f${a} + 2u], v[f${a} + 3u]);`,
    );
}
for (const [TM, TN] of envShapes('SGQS', '16,4')) {
  variants.push({
    name: `sgq ${TM}x${TN}`,
    only: (p) => p.USR === 1 && p.VSR === 1 && p.R % 4 === 0,
    src: sgqKernel({ TM, TN }),
    grid: (p) => [Math.ceil(p.J / (8 * TN)), Math.ceil(p.I / TM)],
  });
}
// subgroup, v as vec4 along j (VSJ = 1): lane l owns columns j0 + 4l .. 4l + 3 (+ 32t); u scalar as in sgs.
function sgvKernel({ TM, TN4 }) {
  const UR = TM / 8;
  const L = ['enable subgroups;'];
  L.push(`override I: u32; override J: u32; override R: u32;`);
  L.push(`override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;`);
  L.push(`@group(0) @binding(0) var<storage, read> u: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> v: array<vec4<f32>>;`);
  L.push(`@group(0) @binding(2) var<storage, read_write> o: array<f32>;`);
  L.push(`@compute @workgroup_size(8) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${TM}u; let jq = wid.x * ${8 * TN4}u + lid.x;`);
  for (let q = 0; q < UR; q++) L.push(`  let ub${q} = min(i0 + ${8 * q}u + lid.x, I - 1u) * USI;`);
  for (let t = 0; t < TN4; t++) L.push(`  let vb${t} = min(jq + ${8 * t}u, J / 4u - 1u);`);
  for (let i = 0; i < TM; i++) for (let t = 0; t < TN4; t++) L.push(`  var a${i}_${t} = vec4<f32>();`);
  L.push(`  for (var r = 0u; r < R; r++) {`);
  for (let q = 0; q < UR; q++) L.push(`    let x${q} = u[ub${q} + r * USR];`);
  for (let t = 0; t < TN4; t++) L.push(`    let b${t} = v[r * (VSR / 4u) + vb${t}];`);
  for (let i = 0; i < TM; i++) {
    L.push(`    { let xs = subgroupBroadcast(x${i >> 3}, ${i & 7}u);`);
    for (let t = 0; t < TN4; t++) L.push(`      a${i}_${t} = fma(vec4(xs), b${t}, a${i}_${t});`);
    L.push(`    }`);
  }
  L.push(`  }`);
  for (let t = 0; t < TN4; t++)
    for (let i = 0; i < TM; i++)
      L.push(
        `  if (jq + ${8 * t}u < J / 4u && i0 + ${i}u < I) { for (var c = 0u; c < 4u; c++) { o[(i0 + ${i}u) * OSI + ((jq + ${8 * t}u) * 4u + c) * OSJ] = a${i}_${t}[c]; } }`,
      );
  L.push(`}`);
  return L.join('\n');
}
for (const [TM, TN4] of envShapes('SGVS', '16,1 8,1 8,2')) {
  variants.push({
    name: `sgv ${TM}x4·${TN4}`,
    only: (p) => p.VSJ === 1 && p.J % 4 === 0 && p.VSR % 4 === 0,
    src: sgvKernel({ TM, TN4 }),
    grid: (p) => [Math.ceil(p.J / (32 * TN4)), Math.ceil(p.I / TM)],
  });
}
// sgs with U steps of r per loop iteration, each accumulator written once per iteration (llvmpipe
// masks every write of a loop-carried variable with the execution mask: a blend per FMA otherwise);
// R % U steps in a second loop.
function sguKernel({ TM, TN, U }) {
  const UR = TM / 8;
  const L = ['enable subgroups;'];
  L.push(`override I: u32; override J: u32; override R: u32;`);
  L.push(`override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;`);
  L.push(`@group(0) @binding(0) var<storage, read> u: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> v: array<f32>;`);
  L.push(`@group(0) @binding(2) var<storage, read_write> o: array<f32>;`);
  L.push(`@compute @workgroup_size(8) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${TM}u; let j0 = wid.x * ${8 * TN}u + lid.x;`);
  for (let q = 0; q < UR; q++) L.push(`  let ub${q} = min(i0 + ${8 * q}u + lid.x, I - 1u) * USI;`);
  for (let t = 0; t < TN; t++) L.push(`  let vb${t} = min(j0 + ${8 * t}u, J - 1u) * VSJ;`);
  for (let i = 0; i < TM; i++) for (let t = 0; t < TN; t++) L.push(`  var a${i}_${t} = 0.0;`);
  const body = (steps, rexpr) => {
    for (let s = 0; s < steps; s++) {
      for (let q = 0; q < UR; q++) L.push(`    let x${q}_${s} = u[ub${q} + (${rexpr} + ${s}u) * USR];`);
      for (let t = 0; t < TN; t++) L.push(`    let b${t}_${s} = v[vb${t} + (${rexpr} + ${s}u) * VSR];`);
    }
    for (let i = 0; i < TM; i++) {
      const xs = [];
      for (let s = 0; s < steps; s++) xs.push(`subgroupBroadcast(x${i >> 3}_${s}, ${i & 7}u)`);
      L.push(`    { ${xs.map((x, s) => `let xs${s} = ${x};`).join(' ')}`);
      for (let t = 0; t < TN; t++) {
        let e = `a${i}_${t}`;
        for (let s = 0; s < steps; s++) e = `fma(xs${s}, b${t}_${s}, ${e})`;
        L.push(`      a${i}_${t} = ${e};`);
      }
      L.push(`    }`);
    }
  };
  L.push(`  let full = R / ${U}u * ${U}u;`);
  L.push(`  for (var r = 0u; r < full; r += ${U}u) {`);
  body(U, 'r');
  L.push(`  }`);
  L.push(`  for (var r = full; r < R; r++) {`);
  body(1, 'r');
  L.push(`  }`);
  for (let t = 0; t < TN; t++)
    for (let i = 0; i < TM; i++)
      L.push(`  if (j0 + ${8 * t}u < J && i0 + ${i}u < I) { o[(i0 + ${i}u) * OSI + (j0 + ${8 * t}u) * OSJ] = a${i}_${t}; }`);
  L.push(`}`);
  return L.join('\n');
}
for (const [TM, TN, U] of envShapes('SGUS', '16,4,2 16,4,4 32,2,4')) {
  variants.push({
    name: `sgu ${TM}x${TN} u${U}`,
    src: sguKernel({ TM, TN, U }),
    grid: (p) => [Math.ceil(p.J / (8 * TN)), Math.ceil(p.I / TM)],
  });
}
// sgu with v as vec4 along j (VSJ = 1): lane l owns columns j0 + 4l .. 4l + 3 (+ 32t), scalar
// accumulators, U steps of r per iteration, constant-index stores.
function sgwKernel({ TM, TN4, U }) {
  const UR = TM / 8;
  const C = 'xyzw';
  const L = ['enable subgroups;'];
  L.push(`override I: u32; override J: u32; override R: u32;`);
  L.push(`override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;`);
  L.push(`@group(0) @binding(0) var<storage, read> u: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> v: array<vec4<f32>>;`);
  L.push(`@group(0) @binding(2) var<storage, read_write> o: array<f32>;`);
  L.push(`@compute @workgroup_size(8) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${TM}u; let jq = wid.x * ${8 * TN4}u + lid.x;`);
  for (let q = 0; q < UR; q++) L.push(`  let ub${q} = min(i0 + ${8 * q}u + lid.x, I - 1u) * USI;`);
  for (let t = 0; t < TN4; t++) L.push(`  let vb${t} = min(jq + ${8 * t}u, J / 4u - 1u);`);
  for (let i = 0; i < TM; i++) for (let t = 0; t < TN4; t++) for (let c = 0; c < 4; c++) L.push(`  var a${i}_${t}${C[c]} = 0.0;`);
  const body = (steps, rexpr) => {
    for (let s = 0; s < steps; s++) {
      for (let q = 0; q < UR; q++) L.push(`    let x${q}_${s} = u[ub${q} + (${rexpr} + ${s}u) * USR];`);
      for (let t = 0; t < TN4; t++) L.push(`    let b${t}_${s} = v[(${rexpr} + ${s}u) * (VSR / 4u) + vb${t}];`);
    }
    for (let i = 0; i < TM; i++) {
      const xs = [];
      for (let s = 0; s < steps; s++) xs.push(`let xs${s} = subgroupBroadcast(x${i >> 3}_${s}, ${i & 7}u);`);
      L.push(`    { ${xs.join(' ')}`);
      for (let t = 0; t < TN4; t++)
        for (let c = 0; c < 4; c++) {
          let e = `a${i}_${t}${C[c]}`;
          for (let s = 0; s < steps; s++) e = `fma(xs${s}, b${t}_${s}.${C[c]}, ${e})`;
          L.push(`      a${i}_${t}${C[c]} = ${e};`);
        }
      L.push(`    }`);
    }
  };
  L.push(`  let full = R / ${U}u * ${U}u;`);
  L.push(`  for (var r = 0u; r < full; r += ${U}u) {`);
  body(U, 'r');
  L.push(`  }`);
  L.push(`  for (var r = full; r < R; r++) {`);
  body(1, 'r');
  L.push(`  }`);
  for (let t = 0; t < TN4; t++)
    for (let i = 0; i < TM; i++)
      for (let c = 0; c < 4; c++)
        L.push(
          `  if (jq + ${8 * t}u < J / 4u && i0 + ${i}u < I) { o[(i0 + ${i}u) * OSI + ((jq + ${8 * t}u) * 4u + ${c}u) * OSJ] = a${i}_${t}${C[c]}; }`,
        );
  L.push(`}`);
  return L.join('\n');
}
for (const [TM, TN4, U] of envShapes('SGWS', '16,1,4 8,2,4 16,1,2')) {
  variants.push({
    name: `sgw ${TM}x4·${TN4} u${U}`,
    only: (p) => p.VSJ === 1 && p.J % 4 === 0 && p.VSR % 4 === 0,
    src: sgwKernel({ TM, TN4, U }),
    grid: (p) => [Math.ceil(p.J / (32 * TN4)), Math.ceil(p.I / TM)],
  });
}
// subgroup form (fwd: USR = VSR = 1): the 8 lanes of a subgroup each load one vec4 of the broadcast
// operand u per chunk of 32 along r and share them by subgroupBroadcast; v per lane as vec4 along r.
function sgKernel({ A, B, WG, nob }) {
  const L = ['enable subgroups;', HEAD];
  L.push(`@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);
  L.push(`  let i0 = wid.y * ${A}u; let j0 = wid.x * ${WG * B}u + lid.x; let sl = lid.x % 8u;`);
  for (let i = 0; i < A; i++) L.push(`  let ub${i} = min(i0 + ${i}u, I - 1u) * (USI / 4u) + sl;`);
  for (let t = 0; t < B; t++) L.push(`  let vb${t} = min(j0 + ${t * WG}u, J - 1u) * (VSJ / 4u);`);
  for (let i = 0; i < A; i++) for (let t = 0; t < B; t++) L.push(`  var a${i}_${t} = vec4<f32>();`);
  L.push(`  for (var c = 0u; c < R / 4u; c += 8u) {`);
  for (let i = 0; i < A; i++) L.push(`    let x${i} = u[ub${i} + c];`);
  for (let s = 0; s < 8; s++) {
    for (let t = 0; t < B; t++) L.push(`    let b${s}_${t} = v[vb${t} + c + ${s}u];`);
    for (let i = 0; i < A; i++) {
      L.push(nob ? `    { let xs = x${i};` : `    { let xs = subgroupBroadcast(x${i}, ${s}u);`);
      for (let t = 0; t < B; t++) L.push(`      a${i}_${t} = fma(xs, b${s}_${t}, a${i}_${t});`);
      L.push(`    }`);
    }
  }
  L.push(`  }`);
  for (let t = 0; t < B; t++)
    for (let i = 0; i < A; i++)
      L.push(
        `  if (j0 + ${t * WG}u < J && i0 + ${i}u < I) { let q = a${i}_${t}; o[(i0 + ${i}u) * OSI + (j0 + ${t * WG}u) * OSJ] = (q.x + q.y) + (q.z + q.w); }`,
      );
  L.push(`}`);
  return L.join('\n');
}
for (const [A, B, WG] of envShapes('SGS', '4,4,8 8,2,8 8,2,16 16,1,16 4,2,32 8,4,8')) {
  for (const nob of process.env.NOBCAST ? [false, true] : [false])
    variants.push({
      name: `sg${nob ? '-nobcast' : ''} A${A} B${B} wg${WG}`,
      ...(nob ? { unchecked: true } : {}),
      only: (p) => p.USR === 1 && p.VSR === 1 && p.R % 32 === 0,
      src: sgKernel({ A, B, WG, nob }),
      grid: (p) => [Math.ceil(p.J / (WG * B)), Math.ceil(p.I / A)],
    });
}
// texture form (fwd: USR = VSR = 1): both operands as r32float sampled textures, R texels a row,
// read with textureLoad (llvmpipe's texel fetch: vector address math and a gather, no per-lane
// loop with a mask test and a bounds check as its storage loads have); TM×TN per lane as `tiles`.
function texKernel(TM, TN, WX, WY) {
  return `override I: u32; override J: u32; override R: u32;
override USI: u32; override USR: u32; override VSJ: u32; override VSR: u32; override OSI: u32; override OSJ: u32;
@group(0) @binding(0) var u: texture_2d<f32>;
@group(0) @binding(1) var v: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(${WX}, ${WY}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i0 = gid.y * ${TM}u; let j0 = gid.x * ${TN}u;
  if (i0 >= I || j0 >= J) { return; }
  var ub: array<u32, ${TM}>; var vb: array<u32, ${TN}>;
  for (var i = 0u; i < ${TM}u; i++) { ub[i] = min(i0 + i, I - 1u); }
  for (var i = 0u; i < ${TN}u; i++) { vb[i] = min(j0 + i, J - 1u); }
  var acc: array<array<f32, ${TN}>, ${TM}>;
  for (var r = 0u; r < R; r++) {
    var a: array<f32, ${TM}>; var b: array<f32, ${TN}>;
    for (var i = 0u; i < ${TM}u; i++) { a[i] = textureLoad(u, vec2(r, ub[i]), 0).x; }
    for (var i = 0u; i < ${TN}u; i++) { b[i] = textureLoad(v, vec2(r, vb[i]), 0).x; }
    for (var i = 0u; i < ${TM}u; i++) { for (var t = 0u; t < ${TN}u; t++) { acc[i][t] = fma(a[i], b[t], acc[i][t]); } }
  }
  for (var i = 0u; i < ${TM}u; i++) { for (var t = 0u; t < ${TN}u; t++) {
    if (i0 + i < I && j0 + t < J) { o[(i0 + i) * OSI + (j0 + t) * OSJ] = acc[i][t]; } } }
}`;
}
for (const [TM, TN, WX, WY] of envShapes('TEXS', '8,8,8,2 4,4,8,8')) {
  variants.push({
    name: `tex${TM}x${TN} wg${WX}x${WY}`,
    tex: true,
    only: (p) => p.USR === 1 && p.VSR === 1,
    src: texKernel(TM, TN, WX, WY),
    grid: (p) => [Math.ceil(p.J / (TN * WX)), Math.ceil(p.I / (TM * WY))],
  });
}
// vec4 register tiles (fwd: USR = VSR = 1, R % 4 = 0): as `tiles`, both operands read as vec4 along
// the reduction, 4 steps of it per load: TM + TN vec4 loads for 4·TM·TN FMAs. llvmpipe's load loop
// runs once per lane for the 4 components (its mask test and bounds check shared by them).
function tiles4Kernel(TM, TN, WX, WY) {
  return `${HEAD}
@compute @workgroup_size(${WX}, ${WY}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i0 = gid.y * ${TM}u; let j0 = gid.x * ${TN}u;
  if (i0 >= I || j0 >= J) { return; }
  var ub: array<u32, ${TM}>; var vb: array<u32, ${TN}>;
  for (var i = 0u; i < ${TM}u; i++) { ub[i] = min(i0 + i, I - 1u) * (USI / 4u); }
  for (var i = 0u; i < ${TN}u; i++) { vb[i] = min(j0 + i, J - 1u) * (VSJ / 4u); }
  var acc: array<array<f32, ${TN}>, ${TM}>;
  for (var r = 0u; r < R / 4u; r++) {
    var a: array<vec4<f32>, ${TM}>; var b: array<vec4<f32>, ${TN}>;
    for (var i = 0u; i < ${TM}u; i++) { a[i] = u[ub[i] + r]; }
    for (var i = 0u; i < ${TN}u; i++) { b[i] = v[vb[i] + r]; }
    for (var c = 0u; c < 4u; c++) {
      for (var i = 0u; i < ${TM}u; i++) { for (var t = 0u; t < ${TN}u; t++) { acc[i][t] = fma(a[i][c], b[t][c], acc[i][t]); } }
    }
  }
  for (var i = 0u; i < ${TM}u; i++) { for (var t = 0u; t < ${TN}u; t++) {
    if (i0 + i < I && j0 + t < J) { o[(i0 + i) * OSI + (j0 + t) * OSJ] = acc[i][t]; } } }
}`;
}
for (const [TM, TN, WX, WY] of envShapes('TILES4', '8,8,8,2 4,4,8,8')) {
  variants.push({
    name: `tiles4v${TM}x${TN} wg${WX}x${WY}`,
    only: (p) => p.USR === 1 && p.VSR === 1 && p.R % 4 === 0,
    src: tiles4Kernel(TM, TN, WX, WY),
    grid: (p) => [Math.ceil(p.J / (TN * WX)), Math.ceil(p.I / (TM * WY))],
  });
}
if (process.env.UNROLL)
  for (const [A, B, WG] of envShapes('UNROLL', '')) {
    for (const R of [64, 128, 256])
      variants.push({
        name: `unrolled${R} A${A} B${B} wg${WG}`,
        only: (p) => p.R === R,
        src: laneKernel({ A, B, WG, unroll: R }),
        grid: (p) => [Math.ceil(p.J / (WG * B)), Math.ceil(p.I / A)],
      });
  }
const cases = [];
const BGL = device.createBindGroupLayout({
  entries: [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
  ],
});
const keep = [];
const TBGL = device.createBindGroupLayout({
  entries: [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, texture: { sampleType: 'unfilterable-float' } },
    { binding: 1, visibility: GPUShaderStage.COMPUTE, texture: { sampleType: 'unfilterable-float' } },
    { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
  ],
});
/** An operand as an r32float texture of `width` texels a row (rows = its length / width). */
function texture(data, width) {
  const height = data.length / width;
  const t = device.createTexture({
    size: [width, height],
    format: 'r32float',
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
  });
  device.queue.writeTexture({ texture: t }, data, { bytesPerRow: width * 4 }, [width, height]);
  return t.createView();
}
const UUBGL = device.createBindGroupLayout({
  entries: [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
  ],
});
const UBGL = device.createBindGroupLayout({
  entries: [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
  ],
});
for (const p of problems()) {
  if (!p.name.includes(filter.split(':')[0] ?? '')) continue;
  const u = rand(p.us, p.I * 7 + p.R),
    v = rand(p.vs, p.J * 13 + p.R);
  const ref = reference(p, u, v);
  const uu = device.createBuffer({ size: 65536, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uu, 0, u.subarray(0, 16384));
  const uv = device.createBuffer({ size: 65536, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uv, 0, v.subarray(0, 16384));
  const ub = buffer(u),
    vb = buffer(v),
    ob = device.createBuffer({ size: p.I * p.J * 4, usage: USAGE() });
  const flops = 2 * p.I * p.J * p.R;
  for (const vr of variants) {
    if (filter.includes(':') && !vr.name.includes(filter.split(':')[1])) continue;
    if (vr.only && !vr.only(p)) continue;
    if (process.env.DEBUG) console.log('compile', p.name, vr.name);
    const module = device.createShaderModule({ code: vr.src });
    const layout = vr.uu ? UUBGL : vr.ubo ? UBGL : vr.tex ? TBGL : BGL;
    const pipeline = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module,
        entryPoint: 'main',
        constants: { I: p.I, J: p.J, R: p.R, USI: p.USI, USR: p.USR, VSJ: p.VSJ, VSR: p.VSR, OSI: p.OSI, OSJ: p.OSJ },
      },
    });
    const group = device.createBindGroup({
      layout,
      entries: vr.tex
        ? [texture(u, p.R), texture(v, p.R), { buffer: ob }].map((resource, binding) => ({ binding, resource }))
        : [vr.ubo || vr.uu ? uu : ub, vr.uu ? uv : vb, ob].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    keep.push(module, pipeline, group, ub, vb, ob);
    const grid = vr.grid(p);
    const run = (reps) => {
      const e = device.createCommandEncoder();
      const pass = e.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      for (let i = 0; i < reps; i++) pass.dispatchWorkgroups(grid[0], grid[1]);
      pass.end();
      device.queue.submit([e.finish()]);
      return device.queue.onSubmittedWorkDone();
    };
    device.queue.writeBuffer(ob, 0, new Float32Array(p.I * p.J).fill(NaN));
    await run(1);
    const got = await read(ob, p.I * p.J);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) {
      const err = Math.abs(got[i] - ref[i]) / (1e-4 + 1e-4 * Math.abs(ref[i]));
      if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
    }
    if (!(worst <= 1) && !vr.unchecked) {
      console.log(`${p.name} ${vr.name}: CHECK FAILED (${worst})`);
      continue;
    }
    cases.push({ p: p.name, v: vr.name, run, flops, times: [] });
  }
}
for (let s = 0; s < SAMPLES; s++) {
  for (const c of cases) {
    const t0 = performance.now();
    const u0 = process.cpuUsage();
    await c.run(REPS);
    const u = process.cpuUsage(u0);
    c.times.push((performance.now() - t0) / REPS);
    (c.cpu ??= []).push((u.user + u.system) / 1000 / REPS);
  }
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
let last = '';
for (const c of cases) {
  const ms = med(c.times);
  if (c.p !== last) console.log(`-- ${c.p}`);
  last = c.p;
  const mn = Math.min(...c.times);
  console.log(
    `${c.v.padEnd(26)} cpu ${(med(c.cpu) * 1000).toFixed(0).padStart(7)} µs  med ${(ms * 1000).toFixed(0).padStart(7)} µs  min ${(mn * 1000).toFixed(0).padStart(7)} µs ${(c.flops / mn / 1e6).toFixed(2).padStart(6)} GFLOP/s(min)`,
  );
}
process.exit(0);
