/**
 * The seed workload through jax-js (its WebGPU backend on Dawn), written as JAX trains a model:
 * a pure loss function, `jit(valueAndGrad(loss))` for the step's value and gradients, and a
 * jitted SGD-momentum update over the parameter tree (PyTorch's rule, as optax.sgd with
 * momentum computes it: v ← μ·v + g, p ← p − lr·v). The training samples and labels are uploaded
 * once; each step slices its batch on the GPU. Run by bench/bench-peers.ts as a child process.
 */
import { adapterDescription } from './dawn.ts';
import { blockUntilReady, defaultDevice, init, jit, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import { loadTrainingPrefix, normalized, readInit, cpuSeconds, runRunner, since, transposed, WORKLOAD, type RunnerArgs } from './common.ts';

type Params = { w: np.Array; b: np.Array }[];

const SYNC_EVERY = 8;

async function main(args: RunnerArgs) {
  const { batchSize, layers, lr, momentum } = WORKLOAD;
  const features = layers[0]!;
  const classes = layers[layers.length - 1]!;
  const startAt = performance.now();
  const devices = await init('webgpu');
  if (!devices.includes('webgpu')) throw new Error(`jax-js: no webgpu device (got ${devices.join(', ') || 'none'})`);
  defaultDevice('webgpu');
  const startSeconds = since(startAt);
  const adapter = await adapterDescription();

  const count = Math.max(args.steps, args.warmupSteps) * batchSize;
  const data = loadTrainingPrefix(args.data, count);
  const initial = readInit(args.init);

  const uploadAt = performance.now();
  const x = np.array(normalized(data.images)).reshape([count, features]);
  const y = np.array(Int32Array.from(data.labels), { dtype: np.int32 });
  const params0: Params = initial.map((d) => ({
    w: np.array(transposed(d)).reshape([d.inFeatures, d.outFeatures]),
    b: np.array(d.bias),
  }));
  await Promise.all([x, y, ...tree.leaves(params0)].map((a) => a.blockUntilReady()));
  const uploadSeconds = since(uploadAt);

  // Every argument is consumed (jax-js's ownership rule): each is used exactly once.
  const loss = (params: Params, xb: np.Array, yb: np.Array): np.Array => {
    let h = xb;
    params.forEach((p, l) => {
      h = np.dot(h, p.w).add(p.b);
      if (l < params.length - 1) h = nn.relu(h);
    });
    return nn
      .logSoftmax(h)
      .mul(nn.oneHot(yb, classes))
      .sum()
      .mul(-1 / batchSize);
  };
  const lossAndGrads = jit(valueAndGrad(loss));
  const update = jit((params: Params, velocity: Params, grads: Params): [Params, Params] => {
    const v = tree.map((vi: np.Array, g: np.Array) => vi.mul(momentum).add(g), velocity, grads) as Params;
    const p = tree.map((pi: np.Array, vi: np.Array) => pi.sub(vi.mul(lr)), params, tree.ref(v)) as Params;
    return [p, v];
  });

  // jax-js is lazy: a jitted call only records its work, which is submitted when something reads
  // a result. Its README asks loops to call blockUntilReady regularly so that the pending work
  // (and the memory it holds: 5 GB after 300 steps here) stays bounded; this does it the way the
  // engine submits on a software adapter, every SYNC_EVERY steps with up to two such groups in flight
  // (measured at 40 steps: 30% faster than syncing at the end only, 2.3× faster than every step).
  const train = async (steps: number): Promise<{ params: Params; velocity: Params; losses: np.Array[] }> => {
    let params = tree.ref(params0);
    let velocity = tree.map((p: np.Array) => np.zerosLike(p), tree.ref(params0)) as Params;
    const losses: np.Array[] = [];
    const inFlight: Promise<unknown>[] = [];
    for (let step = 0; step < steps; step++) {
      const xb = x.ref.slice([step * batchSize, (step + 1) * batchSize]);
      const yb = y.ref.slice([step * batchSize, (step + 1) * batchSize]);
      const [value, grads] = lossAndGrads(tree.ref(params), xb, yb);
      [params, velocity] = update(params, velocity, grads);
      losses.push(value);
      if ((step + 1) % SYNC_EVERY === 0) {
        inFlight.push(blockUntilReady(params));
        if (inFlight.length >= 2) await inFlight.shift();
      }
    }
    await Promise.all(inFlight);
    return { params, velocity, losses };
  };

  // Warm-up from the init on its own state: tracing, compiling every kernel; the timed run starts from the init again.
  const warmupAt = performance.now();
  if (args.warmupSteps > 0) {
    const warm = await train(args.warmupSteps);
    await warm.losses[warm.losses.length - 1]!.ref.data();
    tree.dispose([warm.params, warm.velocity, warm.losses]);
  }
  const warmupSeconds = since(warmupAt);

  const trainAt = performance.now();
  const cpuAt = cpuSeconds();
  const run = await train(args.steps);
  await run.losses[run.losses.length - 1]!.ref.data(); // the GPU sync: every step's work is done once the last loss is back
  const trainSeconds = since(trainAt);
  const trainCpuSeconds = cpuSeconds() - cpuAt;

  const values = [...(await np.stack(run.losses).data())];
  tree.dispose([run.params, run.velocity, params0]);
  x.dispose();
  y.dispose();
  lossAndGrads.dispose();
  update.dispose();
  return {
    library: 'jax',
    version: '@jax-js/jax',
    adapter,
    steps: args.steps,
    warmupSteps: args.warmupSteps,
    startSeconds,
    uploadSeconds,
    warmupSeconds,
    trainSeconds,
    trainCpuSeconds,
    losses: values,
    notes: [],
  };
}

runRunner(main);
