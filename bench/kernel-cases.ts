/** The kernel bench's cases: each of the engine's kernels at the MLP's shapes (plus one large matmul), made as the programs make them, with a float64 check. */
import {
  backwardFusedCost,
  forwardCost,
  gatherCost,
  gradInputCost,
  gradWeightCost,
  gradWeightUpdateCost,
  headCost,
  optimizerCost,
  softmaxCeCost,
} from './costs.ts';
import { denseRef, flatParams, HYPER, layerSlice, updateRef, type CaseSpec } from './kernel-context.ts';
import type { KernelBenchOptions, Variant } from './kernels.ts';
import { combine, compare, forwardRef, gatherRef, gradInputRef, gradWeightRef, sgdRef, softmaxCeRef, type DenseRef } from './reference.ts';
import {
  type DenseEntry,
  type DenseShape,
  type ParamLayout,
  StepStat,
  StepTable,
  TRAIN_WORKGROUP,
  denseFamily,
  denseGrid,
  denseOverrides,
  denseVec4,
  denseDims,
  gather,
  gatherGrid,
  gatherOverrides,
  headOverrides,
  optimizer,
  optimizerGrid,
  optimizerOverrides,
  paramLayout,
  reductionGrid,
  reductionWorkgroup,
  softmaxCe,
  softmaxCeOverrides,
} from './engine.ts';
import { MNIST_NORMALIZATION } from '../src/index.ts';

/** One matmul entry point at one shape, its inputs random, its outputs poisoned, checked against reference.ts. */
function denseCase(
  entry: DenseEntry,
  s: DenseRef & DenseShape,
  layout: ParamLayout,
  v: Variant,
  name: string,
  what: string,
  layer?: number,
): CaseSpec {
  const flags = {
    relu: entry === 'forward' && layer !== undefined && layer < layout.dense.length,
    maskRelu: entry === 'grad_input' || entry === 'backward_fused',
    // the subgroup kernels' vec4 form where the layer allows it, as the trainer runs them
    vec4: denseVec4(s),
  };
  const cost =
    entry === 'forward'
      ? forwardCost(s.M, s.N, s.K)
      : entry === 'grad_input'
        ? gradInputCost(s.M, s.N, s.K, true)
        : entry === 'grad_weight'
          ? gradWeightCost(s.M, s.N, s.K)
          : entry === 'grad_weight_update'
            ? gradWeightUpdateCost(s.M, s.N, s.K)
            : backwardFusedCost(s.M, s.N, s.K);
  const large = layer === undefined;
  return {
    name: `${name} [${v.name}]`,
    kernel: `dense.${entry}`,
    ...(layer !== undefined ? { layer } : {}),
    variant: v.name,
    what,
    ...cost,
    async prepare(ctx) {
      const t = v.tuning.matmul;
      const kernel = await ctx.gpu.pipelines.get(denseFamily(t), entry, denseOverrides(t, flags));
      const dims = ctx.uniform('dims', denseDims(s));
      const grid = denseGrid(entry, s, t);
      const label = `${entry}.${name}.${v.name}`;
      const x = ctx.random(s.M * s.K);
      const params = large ? ctx.random(layout.totalFloats, 1 / Math.sqrt(s.K)) : flatParams(ctx, layout);
      const dy = entry === 'forward' ? new Float32Array(0) : ctx.random(s.M * s.N, 0.1);
      const xBuffer = ctx.storage('x', x);
      const paramsBuffer = () => ctx.storage('params', params);
      const dyBuffer = () => ctx.storage('dy', dy);
      switch (entry) {
        case 'forward': {
          const y = ctx.storage('y', s.M * s.N);
          return ctx.prepared(kernel, label, { x: xBuffer, params: paramsBuffer(), y, dims }, grid, undefined, async () => {
            // At 4096³ a full float64 reference is minutes of JS: check the corners and 2048 random outputs.
            const sample = large
              ? [0, s.N - 1, s.M * s.N - s.N, s.M * s.N - 1, ...Array.from({ length: 2048 }, () => ctx.rng.nextBelow(s.M * s.N))]
              : undefined;
            return compare(large ? 'Y (sampled)' : 'Y', await ctx.f32(y), forwardRef(x, params, s, flags.relu, sample), { terms: s.K });
          });
        }
        case 'grad_input': {
          const dx = ctx.storage('dx', s.M * s.K);
          return ctx.prepared(kernel, label, { x: xBuffer, params: paramsBuffer(), dy: dyBuffer(), dx, dims }, grid, undefined, async () =>
            compare('dX', await ctx.f32(dx), gradInputRef(dy, params, x, s, true), { terms: s.N }),
          );
        }
        case 'grad_weight': {
          const grads = ctx.storage('grads', layout.totalFloats);
          return ctx.prepared(kernel, label, { x: xBuffer, dy: dyBuffer(), grads, dims }, grid, undefined, async () =>
            compare('dW,db', layerSlice(await ctx.f32(grads), s), gradWeightRef(dy, x, s), { terms: s.M }),
          );
        }
        default: {
          const velocity = ctx.random(layout.totalFloats, 0.01);
          const paramsOut = ctx.storage('params_out', layout.totalFloats);
          const opt = ctx.optimizer(layout.totalFloats, velocity);
          const velocityBuffer = opt.optState;
          const dx = entry === 'backward_fused' ? ctx.storage('dx', s.M * s.K) : undefined;
          const resources = {
            x: xBuffer,
            params: paramsBuffer(),
            dy: dyBuffer(),
            ...(dx ? { dx } : {}),
            params_out: paramsOut,
            dims,
            ...opt.resources,
          };
          return ctx.prepared(kernel, label, resources, grid, opt.offsets, async () => {
            const update = updateRef(params, velocity, gradWeightRef(dy, x, s), s);
            return combine([
              ...(dx ? [compare('dX', await ctx.f32(dx), gradInputRef(dy, params, x, s, true), { terms: s.N })] : []),
              compare('W,b out', layerSlice(await ctx.f32(paramsOut), s), update.w, { terms: s.M }),
              compare('velocity', layerSlice(await ctx.f32(velocityBuffer), s), update.v, { terms: s.M }),
            ]);
          });
        }
      }
    },
  };
}

export function cases(o: KernelBenchOptions, variants: readonly Variant[]): CaseSpec[] {
  const layout = paramLayout(o.layers);
  const L = layout.dense.length;
  const B = o.batchSize;
  const features = o.layers[0]!;
  const classes = o.layers[L]!;
  const out: CaseSpec[] = [];

  out.push({
    name: 'gather',
    kernel: 'gather.gather',
    what: `${B}×${features} u8 → f32, shuffled`,
    ...gatherCost(B, features),
    async prepare(ctx) {
      const samples = 4 * B + 3;
      const images = new Uint8Array(samples * features).map(() => ctx.rng.nextBelow(256));
      const labels = new Uint32Array(samples).map(() => ctx.rng.nextBelow(classes));
      const order = ctx.rng.permutation(samples);
      const steps = new StepTable(ctx.gpu, 'bench.steps', 2, B);
      ctx.keep(steps.buffer);
      const x = ctx.storage('x', B * features);
      const y = ctx.storage('y', B);
      const format = { featureCount: features, featureType: 'u8', normalization: MNIST_NORMALIZATION } as const;
      const kernel = await ctx.gpu.pipelines.get(gather, 'gather', gatherOverrides(B, format, true));
      const resources = {
        features: ctx.storage('features', images),
        labels: ctx.storage('labels', labels),
        order: ctx.storage('order', order),
        x,
        y,
        step: steps.binding(),
      };
      // slot 1: the batch starts at position B of the order, not at 0
      return ctx.prepared(kernel, 'gather', resources, gatherGrid(B, features), steps.offset(1), async () => {
        const want = gatherRef(images, labels, order, B, B, features, MNIST_NORMALIZATION);
        return combine([
          compare('x', await ctx.f32(x), want.x, { atol: 1e-5, rtol: 1e-5 }),
          compare('y', await ctx.u32(y), want.y, { atol: 0, rtol: 0 }),
        ]);
      });
    },
  });

  out.push({
    name: 'softmax_ce train',
    kernel: 'softmax_ce.train',
    what: `${B}×${classes}`,
    ...softmaxCeCost(B, classes),
    async prepare(ctx) {
      const logits = ctx.random(B * classes, 4);
      const labels = new Uint32Array(B).map(() => ctx.rng.nextBelow(classes));
      const steps = new StepTable(ctx.gpu, 'bench.steps', 2, B);
      ctx.keep(steps.buffer);
      const dlogits = ctx.storage('dlogits', B * classes);
      const stats = ctx.storage('stats', (2 * StepStat.size) / 4);
      const kernel = await ctx.gpu.pipelines.get(
        softmaxCe,
        'train',
        softmaxCeOverrides(B, classes, reductionWorkgroup(B, TRAIN_WORKGROUP)),
      );
      const resources = {
        logits: ctx.storage('logits', logits),
        labels: ctx.storage('labels', labels),
        dlogits,
        stats,
        step: steps.binding(),
      };
      return ctx.prepared(kernel, 'softmax_ce', resources, reductionGrid, steps.offset(1), async () => {
        const want = softmaxCeRef(logits, labels, B, classes);
        const statWords = await ctx.gpu.read(stats);
        const stat = StepStat.read(statWords, 1);
        return combine([
          compare('dlogits', await ctx.f32(dlogits), want.dlogits, { atol: 1e-6, rtol: 1e-4 }),
          compare('mean loss', [stat.loss], Float64Array.of(want.meanLoss), { atol: 1e-5, rtol: 1e-4 }),
          compare('correct', [stat.correct], Uint32Array.of(want.correct), { atol: 0, rtol: 0 }),
        ]);
      });
    },
  });

  {
    const s = denseRef(layout, L - 1, B);
    out.push({
      name: `train_head l${L}`,
      kernel: 'softmax_ce.train_head',
      layer: L,
      what: `(${B}×${s.K})·(${s.N}×${s.K})ᵀ + softmax-CE + dX, dW, update`,
      ...headCost(B, s.N, s.K),
      async prepare(ctx) {
        const hidden = ctx.random(B * s.K).map((v) => Math.max(v, 0));
        const params = flatParams(ctx, layout);
        const velocity = ctx.random(layout.totalFloats, 0.01);
        const labels = new Uint32Array(B).map(() => ctx.rng.nextBelow(s.N));
        const steps = new StepTable(ctx.gpu, 'bench.steps', 2, B);
        ctx.keep(steps.buffer);
        // train_head reads its step's lr (and the first-step flag) from this table's slot 1.
        ctx.optimizerStep(steps, 1);
        const stats = ctx.storage('stats', (2 * StepStat.size) / 4);
        const dhidden = ctx.storage('dhidden', B * s.K);
        const paramsOut = ctx.storage('params_out', layout.totalFloats);
        const opt = ctx.optimizer(layout.totalFloats, velocity);
        const velocityBuffer = opt.optState;
        const kernel = await ctx.gpu.pipelines.get(
          softmaxCe,
          'train_head',
          headOverrides({ rows: B, hidden: s.K, classes: s.N, weightOffset: s.wOff, biasOffset: s.bOff }),
        );
        const resources = {
          labels: ctx.storage('labels', labels),
          stats,
          step: steps.binding(),
          hidden: ctx.storage('hidden', hidden),
          params: ctx.storage('params', params),
          dhidden,
          params_out: paramsOut,
          opt_state: opt.resources.opt_state,
          hyper: opt.resources.hyper,
        };
        return ctx.prepared(kernel, 'train_head', resources, reductionGrid, steps.offset(1), async () => {
          const logits = Float32Array.from(forwardRef(hidden, params, s, false).value);
          const ce = softmaxCeRef(logits, labels, B, s.N);
          const dlogits = Float32Array.from(ce.dlogits);
          const update = updateRef(params, velocity, gradWeightRef(dlogits, hidden, s), s);
          const statWords = await ctx.gpu.read(stats);
          return combine([
            compare('mean loss', [StepStat.read(statWords, 1).loss], Float64Array.of(ce.meanLoss), { atol: 1e-5, rtol: 1e-4 }),
            compare('correct', [StepStat.read(statWords, 1).correct], Uint32Array.of(ce.correct), { atol: 0, rtol: 0 }),
            compare('dX', await ctx.f32(dhidden), gradInputRef(dlogits, params, hidden, s, true), { terms: s.N }),
            compare('W,b out', layerSlice(await ctx.f32(paramsOut), s), update.w, { terms: B }),
            compare('velocity', layerSlice(await ctx.f32(velocityBuffer), s), update.v, { terms: B }),
          ]);
        });
      },
    });
  }

  out.push({
    name: 'optimizer step',
    kernel: 'optimizer.update_all',
    what: `${layout.totalFloats} floats`,
    ...optimizerCost(layout.totalFloats),
    async prepare(ctx) {
      const n = layout.totalFloats;
      const params = ctx.random(n, 0.1);
      const grads = ctx.random(n, 0.01);
      const velocity = ctx.random(n, 0.01);
      const paramsBuffer = ctx.storage('params', params);
      const opt = ctx.optimizer(n, velocity);
      const velocityBuffer = opt.optState;
      const kernel = await ctx.gpu.pipelines.get(optimizer, 'update_all', optimizerOverrides(n));
      const resources = { params: paramsBuffer, grads: ctx.storage('grads', grads), ...opt.resources };
      return ctx.prepared(kernel, 'optimizer', resources, optimizerGrid(n), opt.offsets, async () => {
        const w = new Float64Array(n);
        const v = new Float64Array(n);
        for (let i = 0; i < n; i++) [w[i], v[i]] = sgdRef(params[i]!, velocity[i]!, grads[i]!, HYPER);
        return combine([compare('params', await ctx.f32(paramsBuffer), w), compare('velocity', await ctx.f32(velocityBuffer), v)]);
      });
    },
  });

  const shapeText = (s: DenseRef) => `(${s.M}×${s.K})·(${s.N}×${s.K})ᵀ`;
  for (const v of variants) {
    // The fused step's matmuls (the default), then the unfused backward pass (--unfused-update).
    for (let l = 0; l < L; l++) {
      const s = denseRef(layout, l, B);
      out.push(denseCase('forward', s, layout, v, `forward l${l + 1}`, `${shapeText(s)}${l < L - 1 ? ' +ReLU' : ''}`, l + 1));
    }
    for (let l = L - 1; l >= 1; l--) {
      const s = denseRef(layout, l, B);
      out.push(denseCase('backward_fused', s, layout, v, `backward_fused l${l + 1}`, `${shapeText(s)} dX+dW+update`, l + 1));
    }
    {
      const s = denseRef(layout, 0, B);
      out.push(denseCase('grad_weight_update', s, layout, v, 'grad_weight_update l1', `${shapeText(s)} dW+update`, 1));
    }
    for (let l = L - 1; l >= 0; l--) {
      const s = denseRef(layout, l, B);
      out.push(denseCase('grad_weight', s, layout, v, `grad_weight l${l + 1}`, `${shapeText(s)} dW,db`, l + 1));
      if (l > 0) out.push(denseCase('grad_input', s, layout, v, `grad_input l${l + 1}`, `${shapeText(s)} dX, ReLU mask`, l + 1));
    }
    if (o.large > 0) {
      const S = o.large;
      // One flat buffer, W at 0 and b right after it, as the model's.
      const big = paramLayout([S, S]);
      const d = big.dense[0]!;
      const s = { ...d, rows: S, M: S, N: S, K: S, wOff: d.weightOffset, bOff: d.biasOffset };
      out.push(denseCase('forward', s, big, v, `forward ${S}³`, `(${S}×${S})·(${S}×${S})ᵀ`));
    }
  }
  return out;
}
