/**
 * The seed workload through TensorFlow.js (tfjs-core + the WebGPU backend on Dawn), written the way
 * its documentation trains a model: fused dense layers (`tf.fused.matMul` with bias and ReLU),
 * `tf.losses.softmaxCrossEntropy`, `tf.train.momentum` driven by `optimizer.minimize`. The
 * training samples and their one-hot labels are uploaded once; each step slices its batch on the
 * GPU. Run by bench/bench-peers.ts as a child process.
 */
import { adapterDescription } from './dawn.ts';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients'; // tfjs-core alone has no gradients; @tensorflow/tfjs imports this too
import '@tensorflow/tfjs-backend-webgpu';
import {
  loadTrainingPrefix,
  normalized,
  oneHot,
  readInit,
  cpuSeconds,
  runRunner,
  since,
  transposed,
  WORKLOAD,
  type RunnerArgs,
} from './common.ts';

interface Dense {
  readonly w: tf.Variable;
  readonly b: tf.Variable;
}

async function main(args: RunnerArgs) {
  const { batchSize, layers, lr, momentum } = WORKLOAD;
  const features = layers[0]!;
  const classes = layers[layers.length - 1]!;
  const startAt = performance.now();
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js: the webgpu backend did not initialize');
  await tf.ready();
  const startSeconds = since(startAt);
  const adapter = await adapterDescription();

  const count = Math.max(args.steps, args.warmupSteps) * batchSize;
  const data = loadTrainingPrefix(args.data, count);
  const init = readInit(args.init);

  const uploadAt = performance.now();
  const x = tf.tensor2d(normalized(data.images), [count, features]);
  const y = tf.tensor2d(oneHot(data.labels, classes), [count, classes]);
  const initial = init.map((d) => ({
    w: tf.tensor2d(transposed(d), [d.inFeatures, d.outFeatures]),
    b: tf.tensor1d(d.bias),
  }));
  // TensorFlow.js uploads a tensor when a GPU kernel first reads it: read everything once here.
  const sums = [x, y, ...initial.flatMap((p) => [p.w, p.b])].map((t) => tf.sum(t));
  await Promise.all(sums.map((t) => t.data()));
  tf.dispose(sums);
  const uploadSeconds = since(uploadAt);

  const variables = (): Dense[] => initial.map((p) => ({ w: tf.variable(p.w), b: tf.variable(p.b) }));
  const train = (params: Dense[], optimizer: tf.Optimizer, steps: number): tf.Scalar[] => {
    const varList = params.flatMap((p) => [p.w, p.b]);
    const losses: tf.Scalar[] = [];
    for (let step = 0; step < steps; step++) {
      const loss = optimizer.minimize(
        () => {
          const xb = tf.slice(x, [step * batchSize, 0], [batchSize, features]);
          const yb = tf.slice(y, [step * batchSize, 0], [batchSize, classes]);
          let h: tf.Tensor2D = xb;
          params.forEach((p, l) => {
            const hidden = l < params.length - 1;
            h = tf.fused.matMul({ a: h, b: p.w as tf.Tensor2D, bias: p.b, activation: hidden ? 'relu' : 'linear' }) as tf.Tensor2D;
          });
          return tf.losses.softmaxCrossEntropy(yb, h);
        },
        true,
        varList,
      );
      losses.push(loss!);
    }
    return losses;
  };

  // Warm-up on throwaway variables and optimizer: every shader gets compiled; the timed run starts from the init.
  const warmupAt = performance.now();
  if (args.warmupSteps > 0) {
    const params = variables();
    const optimizer = tf.train.momentum(lr, momentum);
    const losses = train(params, optimizer, args.warmupSteps);
    await losses[losses.length - 1]!.data();
    tf.dispose([...losses, ...params.flatMap((p) => [p.w, p.b])]);
    optimizer.dispose();
  }
  const warmupSeconds = since(warmupAt);

  const params = variables();
  const optimizer = tf.train.momentum(lr, momentum);
  const trainAt = performance.now();
  const cpuAt = cpuSeconds();
  const losses = train(params, optimizer, args.steps);
  await losses[losses.length - 1]!.data(); // the GPU sync: every step's work is done once the last loss is back
  const trainSeconds = since(trainAt);
  const trainCpuSeconds = cpuSeconds() - cpuAt;

  const values = [...(await tf.stack(losses).data())];
  return {
    library: 'tfjs',
    version: `@tensorflow/tfjs-core ${tf.version_core}, tfjs-backend-webgpu`,
    adapter,
    steps: args.steps,
    warmupSteps: args.warmupSteps,
    startSeconds,
    uploadSeconds,
    warmupSeconds,
    trainSeconds,
    trainCpuSeconds,
    losses: values,
    notes: [`backend ${tf.getBackend()}`, `tensors alive at the end: ${tf.memory().numTensors}`],
  };
}

runRunner(main);
