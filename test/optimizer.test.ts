import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denseFamily, denseOverrides, denseVec4, gradWeightGrid, type DenseTuning } from '../src/kernels/dense.ts';
import { hyperData, optimizer, optimizerGrid, optimizerOverrides, stateTensors } from '../src/kernels/optimizer.ts';
import { StepStat } from '../src/kernels/records.ts';
import { adam, adamw, hyperValues, sgd, stepValues, type Optimizer } from '../src/model/optimizers.ts';
import { StepTable } from '../src/model/parameters.ts';
import { SUBGROUP_TUNING } from '../src/model/programs/tuning.ts';
import { Rng } from '../src/model/rng.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { bindGroup, dispatch } from '../src/runtime/pipelines.ts';
import {
  expectClose,
  expectedUpdate,
  optimizerBindings,
  randomArray,
  randomState,
  readF32,
  referenceUpdate,
  runKernel,
  storageBuffer,
  testGpu,
  uniformBuffer,
  dimsBuffer,
} from './helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// Every rule of lib/optimizer_update.wgsl, each with and without weight decay.
const RULES: readonly [string, Optimizer][] = [
  ['sgd', sgd({ lr: 0.1 })],
  ['sgd wd', sgd({ lr: 0.1, weightDecay: 0.05 })],
  ['sgd momentum', sgd({ lr: 0.05, momentum: 0.9 })],
  ['sgd momentum dampening wd', sgd({ lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 })],
  ['sgd nesterov', sgd({ lr: 0.05, momentum: 0.9, nesterov: true })],
  ['sgd nesterov wd', sgd({ lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.02 })],
  ['adam', adam({ lr: 0.01 })],
  ['adam wd betas eps', adam({ lr: 0.02, betas: [0.8, 0.99], eps: 1e-4, weightDecay: 0.05 })],
  ['adamw', adamw({ lr: 0.01, weightDecay: 0 })],
  ['adamw wd', adamw({ lr: 0.01, weightDecay: 0.3 })],
];

const STEPS = 4;
const lrOf = (o: Optimizer, t: number) => o.lr * (t === 3 ? 0.5 : 1); // one step at another lr, as a schedule gives

describe('the optimizer pass over a flat parameter buffer, against torch.optim in float64', () => {
  for (const [name, o] of RULES) {
    for (const count of [1, 255, 257, 100_003]) {
      if (count === 100_003 && !name.startsWith('adam') && name !== 'sgd nesterov wd') continue;
      it(`${name}: ${count} parameters, ${STEPS} steps from a fresh state`, async () => {
        const rng = new Rng(count + name.length);
        const w0 = randomArray(rng, count);
        const grads = Array.from({ length: STEPS }, () => randomArray(rng, count, 0.3));
        const params = storageBuffer(gpu, 'params', w0);
        const gradBuffer = storageBuffer(gpu, 'grads', count);
        const tensors = stateTensors(o.kind === 'sgd' ? 'sgd' : o.kind);
        const optState = storageBuffer(gpu, 'opt_state', new Float32Array(count * tensors));
        const table = new StepTable(gpu, 'test.steps', STEPS, 1);
        table.setOptimizerSteps(
          gpu,
          0,
          Array.from({ length: STEPS }, (_, i) => stepValues(o, lrOf(o, i + 1), i + 1)),
        );
        const stats = storageBuffer(gpu, 'stats', new Uint32Array((STEPS * StepStat.size) / 4));
        const rule = o.kind;
        const kernel = await gpu.pipelines.get(optimizer, 'update_all', optimizerOverrides(count, rule));
        const group = bindGroup(gpu.device, kernel, 'optimizer', {
          params,
          grads: gradBuffer,
          opt_state: optState,
          hyper: uniformBuffer(gpu, 'hyper', hyperData(hyperValues(o, count))),
          step: table.binding(),
          step_flags: stats,
        });
        // All steps in one submit, each reading its own step record; each gradient copied in between, as a training step writes it.
        const encoder = gpu.device.createCommandEncoder();
        const sources = grads.map((g, i) => storageBuffer(gpu, `g${i}`, g));
        sources.forEach((source, i) => {
          encoder.copyBufferToBuffer(source, 0, gradBuffer, 0, count * 4);
          const pass = encoder.beginComputePass();
          dispatch(pass, kernel, group, optimizerGrid(count), table.offset(i));
          pass.end();
        });
        gpu.device.queue.submit([encoder.finish()]);

        const w = Float64Array.from(w0);
        const state = Array.from({ length: tensors }, () => new Float64Array(count));
        grads.forEach((g, i) => {
          for (let j = 0; j < count; j++) {
            const e = state.map((s) => s[j]!);
            w[j] = referenceUpdate(o, w[j]!, e, g[j]!, lrOf(o, i + 1), i + 1);
            e.forEach((v, k) => (state[k]![j] = v));
          }
        });
        expectClose(await readF32(gpu, params), w, { atol: 1e-6, rtol: 1e-5, what: 'weights' });
        const out = await readF32(gpu, optState);
        state.forEach((s, k) => expectClose(out.subarray(k * count, (k + 1) * count), s, { atol: 1e-7, rtol: 1e-5, what: `state ${k}` }));
        const flags = new Uint32Array(await gpu.read(stats)).filter((_, i) => i % (StepStat.size / 4) === 2);
        expect([...flags], 'no step flagged non-finite').toEqual(new Array(STEPS).fill(0));
      });
    }
  }

  it("raises the step's non-finite flag when a new weight or state value is NaN or infinite, and only that step's", async () => {
    const o = adam({ lr: 0.01 });
    const count = 300;
    const rng = new Rng(5);
    const grads = randomArray(rng, count, 0.3);
    grads[17] = Number.POSITIVE_INFINITY; // g² overflows: exp_avg_sq is Inf, the weight NaN
    const slot = 3;
    const b = optimizerBindings(gpu, o, count, [new Float32Array(count), new Float32Array(count)], o.lr, 1, slot);
    const kernel = await gpu.pipelines.get(optimizer, 'update_all', optimizerOverrides(count, 'adam'));
    const params = storageBuffer(gpu, 'params', randomArray(rng, count));
    await runKernel(gpu, kernel, { params, grads: storageBuffer(gpu, 'grads', grads), ...b.resources }, optimizerGrid(count), b.offsets);
    expect(await b.nonfinite()).not.toBe(0);
    const words = new Uint32Array(await gpu.read(b.stats));
    for (let s = 0; s < slot; s++) expect(StepStat.read(words.buffer, s).nonfinite, `slot ${s}`).toBe(0);
  });
});

describe('the update fused into grad_weight_update (every rule: tiles, rows, subgroup and its vec4 form)', () => {
  // The subgroup kernels' VEC4 form updates 4 weights with one access of each buffer: W on 16 bytes
  // and K % 4 == 0; Adam's exp_avg_sq starts at the state stride, a multiple of 4 or not (`pad`).
  const cases: { tuning: DenseTuning; K: number; weightOffset: number; pad: number }[] = [
    { tuning: { variant: 'tiles', wgX: 8, wgY: 8, split: 1 }, K: 65, weightOffset: 3, pad: 1 },
    { tuning: { variant: 'rows', wgX: 16, wgY: 1, split: 1 }, K: 65, weightOffset: 3, pad: 1 },
    { tuning: SUBGROUP_TUNING.matmul, K: 65, weightOffset: 3, pad: 1 },
    { tuning: SUBGROUP_TUNING.matmul, K: 68, weightOffset: 4, pad: 1 },
    { tuning: SUBGROUP_TUNING.matmul, K: 68, weightOffset: 4, pad: 2 },
  ];
  const [M, N] = [45, 13];
  for (const { tuning, K, weightOffset, pad } of cases)
    for (const [name, o] of RULES.filter(([n]) =>
      ['sgd momentum dampening wd', 'sgd nesterov', 'adam wd betas eps', 'adamw wd'].includes(n),
    )) {
      const biasOffset = weightOffset + N * K + 2;
      const total = biasOffset + N + pad;
      const s = { rows: M, inFeatures: K, outFeatures: N, weightOffset, biasOffset };
      const vec4 = tuning.variant === 'subgroup' && denseVec4(s);
      it(`${name}, ${tuning.variant}${vec4 ? ' vec4' : ''}: M ${M}, N ${N}, K ${K}, state stride ${total}, step 3 from a running state`, async () => {
        const rng = new Rng(M + N + K + name.length);
        const x = randomArray(rng, M * K);
        const dy = randomArray(rng, M * N, 0.2);
        const params = randomArray(rng, total, 0.5);
        const state = randomState(rng, o, total);
        const t = 3;
        const b = optimizerBindings(gpu, o, total, state, o.lr, t);
        const kernel = await gpu.pipelines.get(denseFamily(tuning), 'grad_weight_update', denseOverrides(tuning, { rule: o.kind, vec4 }));
        const paramsOut = storageBuffer(gpu, 'params_out', total);
        const resources = {
          x: storageBuffer(gpu, 'x', x),
          params: storageBuffer(gpu, 'p', params),
          dy: storageBuffer(gpu, 'dy', dy),
          dims: dimsBuffer(gpu, s),
        };
        await runKernel(gpu, kernel, { ...resources, params_out: paramsOut, ...b.resources }, gradWeightGrid(s, tuning), b.offsets);
        const expected = expectedUpdate(o, params, state, o.lr, t);
        for (let n = 0; n < N; n++) {
          let db = 0;
          for (let m = 0; m < M; m++) db += dy[m * N + n]!;
          expected.update(biasOffset + n, db);
          for (let k = 0; k < K; k++) {
            let dw = 0;
            for (let m = 0; m < M; m++) dw += dy[m * N + n]! * x[m * K + k]!;
            expected.update(weightOffset + n * K + k, dw);
          }
        }
        const out = await readF32(gpu, paramsOut);
        const inLayer = (a: ArrayLike<number>) => [
          ...Array.from({ length: N * K }, (_, i) => a[weightOffset + i]!),
          ...Array.from({ length: N }, (_, i) => a[biasOffset + i]!),
        ];
        expectClose(inLayer(out), Float64Array.from(inLayer(expected.w)), { atol: 1e-6, rtol: 1e-4, what: 'W, b' });
        const got = await b.readState();
        got.forEach((g, i) =>
          expectClose(inLayer(g), Float64Array.from(inLayer(expected.state[i]!)), { atol: 1e-7, rtol: 1e-4, what: `state ${i}` }),
        );
        expect(Number.isNaN(out[weightOffset - 1]!), 'params_out outside W and b is untouched').toBe(true);
        expect(await b.nonfinite()).toBe(0);
      });
    }
});
