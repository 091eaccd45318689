import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headOverrides, reductionWorkgroup, softmaxCe, softmaxCeOverrides, softmaxGrid } from '../src/kernels/softmax-ce.ts';
import { sgd, stepValues } from '../src/model/optimizers.ts';
import type { OptimizerStep } from '../src/model/parameters.ts';

const NO_STEP: OptimizerStep = { lr: 0, stepSize: 0, bc2Sqrt: 1, decay: 1, first: 0 };
import { StepParams, StepStat } from '../src/kernels/records.ts';
import type { Gpu } from '../src/runtime/device.ts';
import { Rng } from '../src/model/rng.ts';
import {
  expectClose,
  expectedUpdate,
  optimizerBindings,
  randomArray,
  readF32,
  readU32,
  runKernel,
  storageBuffer,
  testGpu,
} from './helpers.ts';

interface RefResult {
  rowLoss: Float64Array;
  dlogits: Float64Array;
  meanLoss: number;
  correct: number;
  argmax: number[];
  probs: Float64Array;
}

// float64 reference of softmax + cross-entropy, as torch.nn.CrossEntropyLoss (mean) and its gradient.
function reference(logits: Float32Array, labels: Uint32Array, rows: number, classes: number): RefResult {
  const rowLoss = new Float64Array(rows);
  const dlogits = new Float64Array(rows * classes);
  const probs = new Float64Array(rows * classes);
  const argmax: number[] = [];
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const z = Array.from(logits.subarray(r * classes, (r + 1) * classes));
    const max = Math.max(...z);
    const best = z.indexOf(max);
    argmax.push(best);
    const sum = z.reduce((a, v) => a + Math.exp(v - max), 0);
    rowLoss[r] = Math.log(sum) - (z[labels[r]!]! - max);
    for (let c = 0; c < classes; c++) {
      const p = Math.exp(z[c]! - max) / sum;
      probs[r * classes + c] = p;
      dlogits[r * classes + c] = (p - (c === labels[r] ? 1 : 0)) / rows;
    }
    if (best === labels[r]) correct++;
  }
  return { rowLoss, dlogits, meanLoss: rowLoss.reduce((a, v) => a + v, 0) / rows, correct, argmax, probs };
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

function stepTable(slot: number, batchStart: number, optimizerStep: OptimizerStep = NO_STEP): GPUBuffer {
  const stride = gpu.device.limits.minUniformBufferOffsetAlignment;
  const bytes = new ArrayBuffer(2 * stride);
  // the record at offset `stride` is the one bound, so the dynamic offset is exercised
  StepParams.write(bytes, { slot, batchStart, ...optimizerStep }, 0, stride);
  return gpu.buffers.create('steps', bytes.byteLength, GPUBufferUsage.UNIFORM, new Uint8Array(bytes));
}

async function trainKernel(logits: Float32Array, labels: Uint32Array, rows: number, classes: number, preferredWg = 64) {
  const wg = reductionWorkgroup(rows, preferredWg);
  const kernel = await gpu.pipelines.get(softmaxCe, 'train', softmaxCeOverrides(rows, classes, wg));
  const dlogits = storageBuffer(gpu, 'dlogits', rows * classes);
  const slot = 3;
  const stats = storageBuffer(gpu, 'stats', (StepStat.size / 4) * 5);
  const stride = gpu.device.limits.minUniformBufferOffsetAlignment;
  await runKernel(
    gpu,
    kernel,
    {
      logits: storageBuffer(gpu, 'logits', logits),
      labels: storageBuffer(gpu, 'labels', labels),
      dlogits,
      stats,
      step: { buffer: stepTable(slot, 0), offset: 0, size: StepParams.size },
    },
    [1, 1, 1],
    [stride],
  );
  const statWords = await gpu.read(stats);
  return {
    dlogits: await readF32(gpu, dlogits),
    meanLoss: StepStat.read(statWords, slot).loss,
    correct: StepStat.read(statWords, slot).correct,
    untouchedSlot: StepStat.read(statWords, 0).loss,
  };
}

describe('fused softmax-cross-entropy', () => {
  it("gives the seed's numbers: CE([0.2, 0.1, -0.1], target 0) = 0.9729189", async () => {
    const out = await trainKernel(new Float32Array([0.2, 0.1, -0.1]), new Uint32Array([0]), 1, 3);
    expect(out.meanLoss).toBeCloseTo(0.9729189, 6);
    expect(out.correct).toBe(1);
    expect(Number.isNaN(out.untouchedSlot)).toBe(true);
  });

  it("gives the seed's batch losses 0.4966 and 1.2389 for its two 3×3 examples", async () => {
    const labels = new Uint32Array([2, 0, 1]);
    const good = await trainKernel(new Float32Array([0.1, 0.2, 0.9, 1.1, 0.1, 0.2, 0.2, 2.1, 0.1]), labels, 3, 3);
    const bad = await trainKernel(new Float32Array([0.8, 0.2, 0.3, 0.2, 0.3, 0.5, 0.2, 0.2, 0.5]), labels, 3, 3);
    expect(good.meanLoss.toFixed(4)).toBe('0.4966');
    expect(bad.meanLoss.toFixed(4)).toBe('1.2389');
    expect(good.correct).toBe(3);
    expect(bad.correct).toBe(0);
  });

  it("gives softmax over dim 1 and dim 0 of the seed's [[1,1],[2,2],[3,3]]", async () => {
    const run = async (logits: Float32Array, rows: number, classes: number) => {
      const kernel = await gpu.pipelines.get(softmaxCe, 'softmax', softmaxCeOverrides(rows, classes, 64));
      const probs = storageBuffer(gpu, 'probs', rows * classes);
      await runKernel(gpu, kernel, { logits: storageBuffer(gpu, 'logits', logits), probs }, softmaxGrid(rows, 64));
      return readF32(gpu, probs);
    };
    // dim 1: each row [k, k] → [0.5, 0.5]
    expectClose(await run(new Float32Array([1, 1, 2, 2, 3, 3]), 3, 2), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], { what: 'softmax dim 1' });
    // dim 0: softmax down each column = softmax of the transposed rows
    const column = [1, 2, 3].map((v) => Math.exp(v) / (Math.exp(1) + Math.exp(2) + Math.exp(3)));
    const dim0 = await run(new Float32Array([1, 2, 3, 1, 2, 3]), 2, 3);
    expectClose(dim0, [...column, ...column], { what: 'softmax dim 0' });
    expect(column.map((v) => v.toFixed(4))).toEqual(['0.0900', '0.2447', '0.6652']);
  });

  for (const [rows, classes, wg] of [
    [1, 10, 64],
    [45, 10, 64],
    [64, 10, 64],
    [65, 10, 64],
    [99, 7, 32],
    [257, 3, 256],
  ] as const) {
    it(`matches the float64 reference at ${rows}×${classes} (workgroup ≤ ${wg}), large logits included`, async () => {
      const rng = new Rng(rows * 31 + classes);
      const logits = randomArray(rng, rows * classes, 8);
      logits[0] = 80; // exp(80) overflows float32 without the max subtraction
      const labels = Uint32Array.from({ length: rows }, () => rng.nextBelow(classes));
      const ref = reference(logits, labels, rows, classes);
      const out = await trainKernel(logits, labels, rows, classes, wg);
      expectClose(out.dlogits, ref.dlogits, { atol: 1e-7, rtol: 1e-4, what: 'dlogits' });
      expectClose([out.meanLoss], [ref.meanLoss], { atol: 1e-5, rtol: 1e-5, what: 'mean loss' });
      expect(out.correct).toBe(ref.correct);
    });
  }

  it('evaluate: loss, correct count and argmax per row into the chunk slot', async () => {
    const rows = 77;
    const classes = 10;
    const rng = new Rng(5);
    const logits = randomArray(rng, rows * classes, 3);
    const labels = Uint32Array.from({ length: rows }, () => rng.nextBelow(classes));
    const ref = reference(logits, labels, rows, classes);
    const kernel = await gpu.pipelines.get(softmaxCe, 'evaluate', softmaxCeOverrides(rows, classes, 128));
    const stats = storageBuffer(gpu, 'stats', 10);
    const predicted = storageBuffer(gpu, 'predicted', rows + 9);
    const stride = gpu.device.limits.minUniformBufferOffsetAlignment;
    await runKernel(
      gpu,
      kernel,
      {
        logits: storageBuffer(gpu, 'logits', logits),
        labels: storageBuffer(gpu, 'labels', labels),
        stats,
        step: { buffer: stepTable(2, 9), offset: 0, size: StepParams.size },
        predicted,
      },
      [1, 1, 1],
      [stride],
    );
    const words = await gpu.read(stats);
    expectClose([StepStat.read(words, 2).loss], [ref.meanLoss], { what: 'mean loss' });
    expect(StepStat.read(words, 2).correct).toBe(ref.correct);
    expect([...(await readU32(gpu, predicted)).subarray(9)]).toEqual(ref.argmax);
  });
});

describe('train_head: the output layer, its loss and its backward pass in one dispatch', () => {
  // hidden (rows, H) ≥ 0 about half the time, W (C, H) at offset 5, b (C) after a gap, as the flat parameter buffer.
  for (const [rows, hidden, classes] of [
    [1, 1, 2],
    [3, 7, 10],
    [64, 64, 10],
    [65, 33, 10],
    [99, 5, 3],
  ] as const) {
    it(`matches float64 references at batch ${rows}, ${hidden} hidden, ${classes} classes`, async () => {
      const rng = new Rng(rows * 7 + hidden * 3 + classes);
      const weightOffset = 5;
      const biasOffset = weightOffset + classes * hidden + 3;
      const total = biasOffset + classes + 2;
      const x = randomArray(rng, rows * hidden, 2).map((v) => Math.max(v, 0)); // a ReLU output: about half zeros
      const params = randomArray(rng, total, 0.5);
      const velocity = randomArray(rng, total, 0.1);
      const labels = Uint32Array.from({ length: rows }, () => rng.nextBelow(classes));
      const opt = sgd({ lr: 0.05, momentum: 0.9, weightDecay: 0.01 });

      const logits = new Float32Array(rows * classes);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < classes; c++) {
          let z = params[biasOffset + c]!;
          for (let k = 0; k < hidden; k++) z += x[r * hidden + k]! * params[weightOffset + c * hidden + k]!;
          logits[r * classes + c] = z;
        }
      const ce = reference(logits, labels, rows, classes);
      const dx = new Float64Array(rows * hidden);
      for (let r = 0; r < rows; r++)
        for (let k = 0; k < hidden; k++) {
          let g = 0;
          for (let c = 0; c < classes; c++) g += ce.dlogits[r * classes + c]! * params[weightOffset + c * hidden + k]!;
          dx[r * hidden + k] = x[r * hidden + k]! > 0 ? g : 0;
        }
      const { w: expectedW, state: expectedState, update } = expectedUpdate(opt, params, [velocity], opt.lr, 2);
      for (let c = 0; c < classes; c++) {
        let db = 0;
        for (let r = 0; r < rows; r++) db += ce.dlogits[r * classes + c]!;
        update(biasOffset + c, db);
        for (let k = 0; k < hidden; k++) {
          let dw = 0;
          for (let r = 0; r < rows; r++) dw += ce.dlogits[r * classes + c]! * x[r * hidden + k]!;
          update(weightOffset + c * hidden + k, dw);
        }
      }

      const kernel = await gpu.pipelines.get(softmaxCe, 'train_head', headOverrides({ rows, hidden, classes, weightOffset, biasOffset }));
      const slot = 2;
      const stats = storageBuffer(gpu, 'stats', (StepStat.size / 4) * 4);
      const dhidden = storageBuffer(gpu, 'dhidden', rows * hidden);
      const paramsOut = storageBuffer(gpu, 'params_out', total);
      const bindings = optimizerBindings(gpu, opt, total, [velocity], opt.lr, 2);
      await runKernel(
        gpu,
        kernel,
        {
          labels: storageBuffer(gpu, 'labels', labels),
          stats,
          step: { buffer: stepTable(slot, 0, stepValues(opt, opt.lr, 2)), offset: 0, size: StepParams.size },
          hidden: storageBuffer(gpu, 'hidden', x),
          params: storageBuffer(gpu, 'params', params),
          dhidden,
          params_out: paramsOut,
          opt_state: bindings.resources.opt_state,
          hyper: bindings.resources.hyper,
        },
        [1, 1, 1],
        [gpu.device.limits.minUniformBufferOffsetAlignment],
      );
      const statWords = await gpu.read(stats);
      expectClose([StepStat.read(statWords, slot).loss], [ce.meanLoss], {
        atol: 1e-5,
        rtol: 1e-5,
        what: 'mean loss',
      });
      expect(StepStat.read(statWords, slot).correct).toBe(ce.correct);
      expectClose(await readF32(gpu, dhidden), dx, { atol: 1e-6, rtol: 1e-4, what: 'dhidden' });
      const outW = await readF32(gpu, paramsOut);
      expectClose(
        outW.subarray(weightOffset, weightOffset + classes * hidden),
        expectedW.subarray(weightOffset, weightOffset + classes * hidden),
        { what: 'W after SGD' },
      );
      expectClose(outW.subarray(biasOffset, biasOffset + classes), expectedW.subarray(biasOffset, biasOffset + classes), {
        what: 'b after SGD',
      });
      expect(Number.isNaN(outW[biasOffset - 1]!) && Number.isNaN(outW[total - 1]!), 'params_out outside W and b is untouched').toBe(true);
      expectClose((await bindings.readState())[0]!, expectedState[0]!, { what: 'momentum buffer' });
      expect(StepStat.read(statWords, slot).nonfinite, 'no non-finite flag').toBe(0);
    });
  }
});
