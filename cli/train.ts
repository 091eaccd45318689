/**
 * `npm run train`: the PyTorch tutorial's training run from the command line, through the
 * engine's public Node entry only. Prints the tutorial's lines on stdout, exact figures on stderr.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CHECKPOINT_FILE,
  createNodeDevice,
  datasetSlice,
  decodeCheckpoint,
  decodeSafetensors,
  describeAdapter,
  describeError,
  describeOptimizer,
  describeSchedule,
  DivergenceError,
  downloadMnist,
  InputError,
  layersOfStateDict,
  loadMnist,
  mlp,
  resolveDataDir,
  SEED_LAYERS,
  Trainer,
  writeFileAtomic,
  type CheckpointConfig,
  type Device,
  type EpochReport,
  type MnistLike,
  type Tensor,
  type TrainerOptions,
} from '../src/node.ts';
import { parseFlags, usage, type FlagSpec, type ParsedFlags } from '../apps/shared/args.ts';
import { formatDuration } from '../apps/shared/format.ts';
import { OPTIMIZER_FLAGS, optimizerFromFlags, resumeConflict, scheduleFromFlags } from '../apps/shared/optimizer-flags.ts';
import { ProgressBar } from './progress.ts';
import { prepareOutputs } from './outputs.ts';
import { Interrupts } from './signals.ts';

const FLAGS: Record<string, FlagSpec> = {
  data: { type: 'string', placeholder: 'DIR', help: 'MNIST directory (default: $MNIST_DIR, then data/mnist)' },
  download: { type: 'bool', help: 'first download MNIST into the data directory if missing (checksummed; needs the internet)' },
  epochs: { type: 'int', placeholder: 'N', help: 'epochs to train (default 10)' },
  'batch-size': { type: 'int', placeholder: 'B', help: 'batch size (default 64)' },
  ...OPTIMIZER_FLAGS,
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
  'train-subset': { type: 'int', placeholder: 'N', help: 'train on the first N training samples only (tests)', hidden: true },
  help: { type: 'bool', help: 'show this help' },
};

const LOG_EVERY = 300;
const DEFAULT_EPOCHS = 10;

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? describeError(error))}`);
  }
}

interface Plan {
  readonly settings: CheckpointConfig;
  readonly epochs: number;
  readonly maxSteps: number | undefined;
  readonly init: Map<string, Tensor> | undefined;
  readonly resume: Uint8Array | undefined;
}

/** Flags → the run's settings, checked before any file is read or device is made; a checkpoint's settings win and must not conflict. */
async function plan(flags: ParsedFlags): Promise<Plan> {
  let init: Map<string, Tensor> | undefined;
  let layers = flags.layers as number[] | undefined;
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
  const given = {
    layers: layers && mlp(layers).layers,
    batchSize: flags['batch-size'] as number | undefined,
    seed: flags.seed as number | undefined,
    shuffle: flags['no-shuffle'] ? false : undefined,
  };
  if (given.batchSize !== undefined && (!Number.isSafeInteger(given.batchSize) || given.batchSize < 1)) {
    throw new InputError(`batch size must be a positive integer, got ${given.batchSize}`);
  }
  if (given.seed !== undefined && (!Number.isSafeInteger(given.seed) || given.seed < 0 || given.seed > 0xffffffff)) {
    throw new InputError(`seed must be an integer in [0, 2^32), got ${given.seed}`);
  }
  const epochs = (flags.epochs as number | undefined) ?? DEFAULT_EPOCHS;
  if (!Number.isSafeInteger(epochs) || epochs < 0) throw new InputError(`epochs must be a non-negative integer, got ${epochs}`);
  let settings: CheckpointConfig = {
    layers: given.layers ?? SEED_LAYERS,
    optimizer: optimizerFromFlags(flags),
    schedule: scheduleFromFlags(flags, epochs),
    batchSize: given.batchSize ?? 64,
    seed: given.seed ?? 1,
    shuffle: given.shuffle ?? true,
  };
  let resume: Uint8Array | undefined;
  if (flags.resume !== undefined) {
    const file = join(flags.resume as string, CHECKPOINT_FILE);
    resume = await readInput(file, 'checkpoint');
    const saved = decodeCheckpoint(resume, file).config;
    const conflicts: [string, unknown, unknown][] = [
      ['layers', given.layers, saved.layers],
      ['batchSize', given.batchSize, saved.batchSize],
      ['seed', given.seed, saved.seed],
      ['shuffle', given.shuffle, saved.shuffle],
    ];
    for (const [key, mine, theirs] of conflicts) {
      if (mine !== undefined && JSON.stringify(mine) !== JSON.stringify(theirs)) {
        throw new InputError(`--resume: the checkpoint was trained with ${key} ${JSON.stringify(theirs)}; drop the conflicting flag`);
      }
    }
    const conflict = resumeConflict(flags, saved);
    if (conflict) throw new InputError(conflict);
    settings = saved;
  }
  const maxSteps = flags['max-steps'] as number | undefined;
  if (maxSteps !== undefined && (!Number.isSafeInteger(maxSteps) || maxSteps < 1)) {
    throw new InputError(`max steps must be a positive integer, got ${maxSteps}`);
  }
  return { settings, epochs, maxSteps, init, resume };
}

const interrupts = new Interrupts();

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help) {
    process.stdout.write(`${usage('npm run train --', FLAGS)}\n`);
    return 0;
  }
  const dataDir = resolveDataDir(flags.data as string | undefined);
  const p = await plan(flags);
  await prepareOutputs(flags);
  if (flags.download) {
    const fetched = await downloadMnist(dataDir);
    process.stderr.write(fetched.length ? `downloaded ${fetched.join(', ')} to ${dataDir}\n` : `MNIST already in ${dataDir}\n`);
  }
  const data = subset(await loadMnist(dataDir), flags['train-subset'] as number | undefined);
  const device = await createNodeDevice();
  try {
    return await train(device, data, p, flags);
  } finally {
    device.destroy();
  }
}

async function train(device: Device, data: MnistLike, p: Plan, flags: ParsedFlags): Promise<number> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const info = (line: string) => process.stderr.write(`${line}\n`);
  info(`adapter: ${describeAdapter(device.adapter)}`);
  const setupStart = performance.now();
  const options: TrainerOptions = {
    model: mlp(p.settings.layers),
    optimizer: p.settings.optimizer,
    schedule: p.settings.schedule,
    train: data.train,
    test: data.test,
    batchSize: p.settings.batchSize,
    seed: p.settings.seed,
    shuffle: p.settings.shuffle,
    ...(p.init ? { init: p.init, initName: flags.init as string } : {}),
    ...(flags['steps-per-submit'] !== undefined ? { stepsPerSubmit: flags['steps-per-submit'] as number } : {}),
    ...(flags['unfused-update'] ? { fusedUpdate: false } : {}),
  };
  const trainer = await Trainer.create(device, options);
  const progress = new ProgressBar();
  try {
    if (p.resume) {
      await trainer.restore(p.resume, join(flags.resume as string, CHECKPOINT_FILE));
      info(`resumed at epoch ${trainer.epoch + 1}, step ${trainer.globalStep}`);
    }
    const config = trainer.config;
    info(
      `model ${config.layers.join('-')}, ${data.train.count} training samples, batch ${config.batchSize}, ` +
        `${trainer.stepsPerEpoch} steps/epoch, ${describeOptimizer(config.optimizer)}, lr ${describeSchedule(config.schedule)}, ` +
        `${await trainer.dispatchesPerStep()} dispatches/step; ` +
        `set-up ${((performance.now() - setupStart) / 1000).toFixed(2)} s`,
    );
    let running = 0;
    let runningCount = 0;
    let lastLoss = NaN;
    const epochs: EpochReport[] = [];
    const totalSteps = Math.min(p.epochs * trainer.stepsPerEpoch, p.maxSteps ?? Infinity);
    const runStart = performance.now();
    const startStep = trainer.globalStep;
    let stopped: 'completed' | 'paused';
    interrupts.trainingStarts();
    try {
      ({ stopped } = await trainer.fit({
        epochs: p.epochs,
        signal: interrupts.signal,
        ...(p.maxSteps !== undefined ? { maxSteps: p.maxSteps } : {}),
        onBatch(b) {
          lastLoss = b.loss;
          running += b.loss;
          runningCount++;
          if (b.stepInEpoch % LOG_EVERY === LOG_EVERY - 1) {
            progress.clear();
            log(`[${b.epoch + 1}, ${String(b.stepInEpoch + 1).padStart(5)}] loss: ${(running / runningCount).toFixed(3)}`);
            running = 0;
            runningCount = 0;
          }
        },
        onChunk(r) {
          const done = r.firstStep + r.losses.length;
          const elapsed = (performance.now() - runStart) / 1000;
          const eta = ((totalSteps - done) * elapsed) / Math.max(done - startStep, 1);
          progress.update(
            done / totalSteps,
            `epoch ${r.epoch + 1}/${p.epochs} step ${r.stepInEpoch + r.losses.length}/${r.stepsPerEpoch} ` +
              `loss ${lastLoss.toFixed(3)} ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s ETA ${formatDuration(eta)}`,
          );
        },
        async onEpoch(e) {
          progress.clear();
          running = 0;
          runningCount = 0;
          epochs.push(e);
          const test = e.test!;
          // The seed program's line (integer percent), then the exact figures.
          log(`Accuracy on test set: ${Math.floor(100 * test.accuracy)} %`);
          info(
            `epoch ${e.epoch + 1}${e.partial ? ' (partial)' : ''}: ${e.seconds.toFixed(2)} s, ` +
              `${Math.round(e.samplesPerSecond).toLocaleString('en-US')} samples/s, train loss ${e.trainLoss.toFixed(4)}, ` +
              `test loss ${test.loss.toFixed(4)}, test accuracy ${(100 * test.accuracy).toFixed(2)}% (${test.correct}/${test.count})`,
          );
          if (flags.checkpoint) await writeCheckpoint(trainer, flags.checkpoint as string);
        },
      }));
    } catch (error) {
      progress.clear();
      if (error instanceof DivergenceError && flags.save) {
        await saveWeights(trainer, flags.save as string);
        info(`saved the last good weights (after step ${trainer.lastGoodStep ?? 0}) to ${flags.save as string}`);
      }
      throw error;
    }
    progress.clear();
    if (stopped === 'paused') {
      info(`interrupted after step ${trainer.globalStep} (epoch ${trainer.epoch + 1}, step ${trainer.stepInEpoch} of it)`);
      if (flags.checkpoint) await writeCheckpoint(trainer, flags.checkpoint as string);
    }
    if (flags.save) {
      await saveWeights(trainer, flags.save as string);
      info(`weights saved to ${flags.save as string}`);
    }
    if (flags.json) {
      const trained = epochs.reduce((a, e) => a + e.seconds, 0);
      const samples = epochs.reduce((a, e) => a + e.samplesPerSecond * e.seconds, 0);
      log(
        JSON.stringify({
          adapter: { ...device.adapter, features: undefined },
          epochs: epochs.length,
          epoch_s: epochs.map((e) => Number(e.seconds.toFixed(4))),
          test_acc: epochs.map((e) => e.test?.accuracy),
          final_loss: lastLoss,
          samples_per_s: samples / Math.max(trained, 1e-9),
          steps: trainer.globalStep,
        }),
      );
    }
    return stopped === 'paused' ? (interrupts.exitCode ?? 1) : 0;
  } finally {
    progress.clear();
    trainer.dispose();
  }
}

/** `--train-subset N`: the first N training samples (the test set stays whole). */
function subset(data: MnistLike, n: number | undefined): MnistLike {
  if (n === undefined) return data;
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`--train-subset must be a positive integer, got ${n}`);
  return { ...data, train: datasetSlice(data.train, 0, n) };
}

async function writeCheckpoint(trainer: Trainer, dir: string): Promise<void> {
  const file = join(dir, CHECKPOINT_FILE);
  await writeFileAtomic(file, await trainer.checkpoint());
  process.stderr.write(`checkpoint written to ${file}\n`);
}

async function saveWeights(trainer: Trainer, file: string): Promise<void> {
  await writeFileAtomic(file, await trainer.saveSafetensors());
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`error: ${describeError(error)}\n`);
    process.exit(error instanceof InputError ? 2 : 1);
  },
);
