import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, DivergenceError, InputError } from '../src/runtime/errors.ts';
import { describeAdapter, type Gpu } from '../src/runtime/device.ts';
import { acquireNodeGpu } from '../src/runtime/node-device.ts';
import { writeFileAtomic } from '../src/model/io/atomic-file.ts';
import { CHECKPOINT_FILE, checkpointConfig, decodeCheckpoint, encodeCheckpoint } from '../src/model/io/checkpoint.ts';
import { layersOfStateDict, SEED_LAYERS } from '../src/model/layout.ts';
import { downloadMnist, loadMnistDir, resolveDataDir } from '../src/model/data/mnist-node.ts';
import { decodeSafetensors, encodeSafetensors, type Tensor } from '../src/model/io/safetensors.ts';
import { configFor, DEFAULT_CONFIG, Trainer, validateConfig, type EpochReport, type TrainConfig } from '../src/model/trainer.ts';
import { parseFlags, usage, type FlagSpec } from './args.ts';
import { formatDuration, ProgressBar } from './progress.ts';

const FLAGS: Record<string, FlagSpec> = {
  data: { type: 'string', placeholder: 'DIR', help: 'MNIST directory (default: $MNIST_DIR, then data/mnist)' },
  download: { type: 'bool', help: 'first download MNIST into the data directory if missing (checksummed; needs the internet)' },
  epochs: { type: 'int', placeholder: 'N', help: 'epochs to train (default 10)' },
  'batch-size': { type: 'int', placeholder: 'B', help: 'batch size (default 64)' },
  lr: { type: 'number', placeholder: 'LR', help: 'learning rate (default 0.01)' },
  momentum: { type: 'number', placeholder: 'M', help: 'SGD momentum (default 0.5)' },
  'weight-decay': { type: 'number', placeholder: 'WD', help: 'L2 weight decay, as torch.optim.SGD (default 0)' },
  seed: { type: 'int', placeholder: 'N', help: 'seed of the initial weights and of the shuffle (default 1)' },
  'no-shuffle': { type: 'bool', help: 'batch i is samples [i*B, (i+1)*B) in file order' },
  'max-steps': { type: 'int', placeholder: 'K', help: 'stop after K optimizer steps' },
  layers: { type: 'list', placeholder: '784,512,...,10', help: 'layer sizes (default 784,512,256,128,64,10)' },
  init: { type: 'string', placeholder: 'FILE', help: 'starting weights (.safetensors, PyTorch names l1.weight ...)' },
  save: { type: 'string', placeholder: 'FILE', help: 'write the final weights (.safetensors) here' },
  checkpoint: { type: 'string', placeholder: 'DIR', help: 'write a checkpoint to DIR after every epoch (atomically)' },
  resume: { type: 'string', placeholder: 'DIR', help: 'continue from the checkpoint in DIR' },
  'steps-per-submit': { type: 'int', placeholder: 'N', help: 'optimizer steps per command buffer (default 64; 8 on software adapters)' },
  'unfused-update': { type: 'bool', help: 'run SGD as its own pass instead of fused into the weight-gradient kernels' },
  json: { type: 'bool', help: 'end with one JSON line of results' },
  help: { type: 'bool', help: 'show this help' },
};

const LOG_EVERY = 300;

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? describeError(error))}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help) {
    process.stdout.write(`${usage('npm run train --', FLAGS)}\n`);
    return 0;
  }
  const dataDir = resolveDataDir(flags.data as string | undefined);
  let init: Map<string, Tensor> | undefined;
  let layers = (flags.layers as number[] | undefined) ?? undefined;
  if (flags.init !== undefined) {
    const file = flags.init as string;
    init = decodeSafetensors(await readInput(file, 'weights'), file).tensors;
    const inferred = layersOfStateDict(init);
    if (!inferred) throw new InputError(`${file} has no l1.weight, l2.weight, ... tensors of a chain of layers`);
    if (layers && layers.join(',') !== inferred.join(',')) {
      throw new InputError(`${file} holds layers ${inferred.join(',')}, but --layers says ${layers.join(',')}`);
    }
    layers = inferred;
  }
  let resume: ReturnType<typeof decodeCheckpoint> | undefined;
  if (flags.resume !== undefined) {
    const file = join(flags.resume as string, CHECKPOINT_FILE);
    resume = decodeCheckpoint(await readInput(file, 'checkpoint'), file);
  }

  const overrides: { -readonly [K in keyof TrainConfig]?: TrainConfig[K] } = {};
  const set = <K extends keyof TrainConfig>(key: K, value: TrainConfig[K] | undefined) => {
    if (value !== undefined) (overrides as Record<string, unknown>)[key] = value;
  };
  set('layers', layers);
  set('epochs', flags.epochs as number | undefined);
  set('batchSize', flags['batch-size'] as number | undefined);
  set('lr', flags.lr as number | undefined);
  set('momentum', flags.momentum as number | undefined);
  set('weightDecay', flags['weight-decay'] as number | undefined);
  set('seed', flags.seed as number | undefined);
  set('maxSteps', flags['max-steps'] as number | undefined);
  set('stepsPerSubmit', flags['steps-per-submit'] as number | undefined);
  if (flags['no-shuffle']) overrides.shuffle = false;
  if (flags['unfused-update']) overrides.fusedUpdate = false;
  if (resume) {
    for (const [key, value] of Object.entries(resume.config)) {
      const given = (overrides as Record<string, unknown>)[key];
      if (given !== undefined && JSON.stringify(given) !== JSON.stringify(value)) {
        throw new InputError(`--resume: the checkpoint was trained with ${key} ${JSON.stringify(value)}; drop the conflicting flag`);
      }
    }
    Object.assign(overrides, resume.config);
  }

  validateConfig({ ...DEFAULT_CONFIG, ...overrides });
  if (flags.download) {
    const fetched = await downloadMnist(dataDir);
    process.stderr.write(fetched.length ? `downloaded ${fetched.join(', ')} to ${dataDir}\n` : `MNIST already in ${dataDir}\n`);
  }
  const data = await loadMnistDir(dataDir);
  const gpu = await acquireNodeGpu();
  try {
    return await train(gpu, data, configFor(gpu, { layers: SEED_LAYERS, ...overrides }), flags, init, resume);
  } finally {
    gpu.destroy();
  }
}

async function train(
  gpu: Gpu,
  data: Awaited<ReturnType<typeof loadMnistDir>>,
  config: TrainConfig,
  flags: Record<string, unknown>,
  init: Map<string, Tensor> | undefined,
  resume: ReturnType<typeof decodeCheckpoint> | undefined,
): Promise<number> {
  const json = Boolean(flags.json);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const info = (line: string) => process.stderr.write(`${line}\n`);
  info(`adapter: ${describeAdapter(gpu.adapter)}`);
  const setupStart = performance.now();
  const trainer = await Trainer.create(gpu, data, config, init, flags.init as string | undefined);
  const progress = new ProgressBar();
  try {
    if (resume) {
      trainer.restoreState(resume.state);
      info(`resumed at epoch ${trainer.epoch + 1}, step ${trainer.globalStep}`);
    }
    info(
      `model ${config.layers.join('-')}, ${data.train.count} training samples, batch ${config.batchSize}, ` +
        `${trainer.stepsPerEpoch} steps/epoch, ${await trainer.dispatchesPerStep()} dispatches/step; ` +
        `set-up ${((performance.now() - setupStart) / 1000).toFixed(2)} s`,
    );
    let running = 0;
    let runningCount = 0;
    let lastLoss = NaN;
    const epochs: EpochReport[] = [];
    const totalSteps = Math.min(config.epochs * trainer.stepsPerEpoch, config.maxSteps ?? Infinity);
    const runStart = performance.now();
    const startStep = trainer.globalStep;
    try {
      await trainer.run({
        onChunk(r) {
          for (let i = 0; i < r.losses.length; i++) {
            const stepInEpoch = r.stepInEpoch + i;
            lastLoss = r.losses[i]!;
            running += lastLoss;
            runningCount++;
            if (stepInEpoch % LOG_EVERY === LOG_EVERY - 1) {
              progress.clear();
              log(`[${r.epoch + 1}, ${String(stepInEpoch + 1).padStart(5)}] loss: ${(running / runningCount).toFixed(3)}`);
              running = 0;
              runningCount = 0;
            }
          }
          const done = r.firstStep + r.losses.length;
          const elapsed = (performance.now() - runStart) / 1000;
          const eta = ((totalSteps - done) * elapsed) / Math.max(done - startStep, 1);
          progress.update(
            done / totalSteps,
            `epoch ${r.epoch + 1}/${config.epochs} step ${r.stepInEpoch + r.losses.length}/${r.stepsPerEpoch} ` +
              `loss ${lastLoss.toFixed(3)} ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s ETA ${formatDuration(eta)}`,
          );
        },
        async onEpoch(e) {
          progress.clear();
          running = 0;
          runningCount = 0;
          epochs.push(e);
          // The seed program's line (integer percent), then the exact figures.
          log(`Accuracy on test set: ${Math.floor(100 * e.test.accuracy)} %`);
          info(
            `epoch ${e.epoch + 1}${e.partial ? ' (partial)' : ''}: ${e.seconds.toFixed(2)} s, ` +
              `${Math.round(e.samplesPerSecond).toLocaleString('en-US')} samples/s, train loss ${e.trainLoss.toFixed(4)}, ` +
              `test loss ${e.test.loss.toFixed(4)}, test accuracy ${(100 * e.test.accuracy).toFixed(2)}% (${e.test.correct}/${e.test.count})`,
          );
          if (flags.checkpoint) await writeCheckpoint(trainer, config, flags.checkpoint as string);
        },
      });
    } catch (error) {
      progress.clear();
      if (error instanceof DivergenceError && flags.save) {
        await saveWeights(trainer, flags.save as string);
        info(`saved the last good weights (after step ${trainer.lastGoodStep ?? 0}) to ${flags.save as string}`);
      }
      throw error;
    }
    progress.clear();
    if (flags.save) {
      await saveWeights(trainer, flags.save as string);
      info(`weights saved to ${flags.save as string}`);
    }
    if (json) {
      const trained = epochs.reduce((a, e) => a + e.seconds, 0);
      const samples = epochs.reduce((a, e) => a + e.samplesPerSecond * e.seconds, 0);
      log(
        JSON.stringify({
          adapter: { ...gpu.adapter, features: undefined },
          epochs: epochs.length,
          epoch_s: epochs.map((e) => Number(e.seconds.toFixed(4))),
          test_acc: epochs.map((e) => e.test.accuracy),
          final_loss: lastLoss,
          samples_per_s: samples / Math.max(trained, 1e-9),
          steps: trainer.globalStep,
        }),
      );
    }
    return 0;
  } finally {
    progress.clear();
    trainer.dispose();
  }
}

async function writeCheckpoint(trainer: Trainer, config: TrainConfig, dir: string): Promise<void> {
  const file = join(dir, CHECKPOINT_FILE);
  await writeFileAtomic(file, encodeCheckpoint(await trainer.saveState(), checkpointConfig(config)));
  process.stderr.write(`checkpoint written to ${file}\n`);
}

async function saveWeights(trainer: Trainer, file: string): Promise<void> {
  const bytes = encodeSafetensors(await trainer.stateDict(), { format: 'pt', layers: trainer.layout.layers.join(',') });
  await writeFileAtomic(file, bytes);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`error: ${describeError(error)}\n`);
    process.exit(error instanceof InputError ? 2 : 1);
  },
);
