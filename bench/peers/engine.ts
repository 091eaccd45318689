/**
 * The seed workload through our engine, for `npm run bench:peers`: the same init file, the same
 * first samples in file order (no shuffle), the same steps as the peers, timed by the same rule
 * (the training loop only, ending when the last step's loss is back). The engine keeps the
 * training set on the GPU as bytes and normalizes each batch there, as it always does. Only the
 * engine's public Node entry point is used, as a user's program would.
 */
import { readFileSync } from 'node:fs';
import { createNodeDevice, datasetFrom, describeAdapter, mlp, sgd, Trainer } from '../../src/node.ts';
import { cpuSeconds, loadTrainingPrefix, runRunner, since, WORKLOAD, type RunnerArgs } from './common.ts';

async function main(args: RunnerArgs) {
  const { batchSize, layers, lr, momentum, mean, std } = WORKLOAD;
  const startAt = performance.now();
  const device = await createNodeDevice({ label: 'bench-peers' });
  const startSeconds = since(startAt);
  try {
    const count = args.steps * batchSize;
    const data = loadTrainingPrefix(args.data, count);
    const train = datasetFrom({
      features: data.images,
      labels: data.labels,
      featureCount: layers[0]!,
      classes: layers[layers.length - 1]!,
      normalization: { mean, std },
      name: `the first ${count} MNIST training samples`,
    });

    const uploadAt = performance.now();
    const trainer = await Trainer.create(device, {
      model: mlp(layers),
      optimizer: sgd({ lr, momentum }),
      train,
      batchSize,
      shuffle: false,
      init: new Uint8Array(readFileSync(args.init)),
      initName: args.init,
    });
    const uploadSeconds = since(uploadAt);
    try {
      // Warm-up: `warmupSteps` steps from the init, then back to it (a checkpoint holds weights, momentum and position).
      const warmupAt = performance.now();
      if (args.warmupSteps > 0) {
        const initial = await trainer.checkpoint();
        await trainer.fit({ epochs: 1, maxSteps: args.warmupSteps });
        await trainer.restore(initial);
      }
      const warmupSeconds = since(warmupAt);

      const losses: number[] = [];
      const trainAt = performance.now();
      const cpuAt = cpuSeconds();
      await trainer.fit({ epochs: 1, maxSteps: args.steps, onBatch: (b) => (losses[b.step] = b.loss) });
      const trainSeconds = since(trainAt);
      const trainCpuSeconds = cpuSeconds() - cpuAt;
      const c = trainer.config;
      return {
        library: 'engine',
        version: 'webgpu-mnist-engine',
        adapter: describeAdapter(device.adapter).replace(/ \(software\/fallback adapter\)$/, ''),
        steps: args.steps,
        warmupSteps: Math.min(args.warmupSteps, args.steps),
        startSeconds,
        uploadSeconds,
        warmupSeconds,
        trainSeconds,
        trainCpuSeconds,
        losses,
        notes: [
          'uploadSeconds is Trainer.create: the upload and compiling every pipeline',
          `matmul ${c.tuning.matmul.variant}, ${await trainer.dispatchesPerStep()} dispatches a step, ${c.stepsPerSubmit} steps a submit, ${c.maxInFlight} in flight`,
        ],
      };
    } finally {
      trainer.dispose();
    }
  } finally {
    device.destroy();
  }
}

runRunner(main);
