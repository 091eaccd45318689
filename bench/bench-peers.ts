/**
 * `npm run bench:peers`: the seed workload through our engine, TensorFlow.js and jax-js on the
 * same adapter (Dawn in Node), the same init file, the same batches (the first steps·64 training
 * samples in file order) and the same number of steps, each run in its own child process, the
 * libraries alternating round by round so that a change in the machine's load hits all of them.
 * Prints each one's seconds, the engine's ratio to each peer and the losses, which must agree
 * (bench/peers/compare.ts says how closely, and why); writes the whole record as JSON.
 *
 * The peers' libraries live in bench/peers/ with their own package.json and lock file, out of the
 * engine's package; the npm script installs them (scripts/ensure-peers.sh) and bundles their
 * runners (scripts/build-node.mjs) before this starts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlagSpec } from '../apps/shared/args.ts';
import { InputError, resolveDataDir } from '../src/node.ts';
import { commandLine, hostEnvironment, info, parseFlags, runMain, usage, webgpuVersion, writeResult } from './cli.ts';
import { initialWeights, RESULT_PREFIX, WORKLOAD, writeInit, type RunnerResult } from './peers/common.ts';
import { agreement, formatSummary, PEERS_SCHEMA, ratios, summarize, type Run } from './peers/compare.ts';

const LIBRARIES = ['engine', 'tfjs', 'jax'] as const;
const DEFAULTS = { steps: 300, repeats: 3, warmup: 8, seed: 1, timeout: 1800 };

const FLAGS: Record<string, FlagSpec> = {
  steps: { type: 'int', placeholder: 'N', help: `optimizer steps each library trains and is timed on (default ${DEFAULTS.steps})` },
  repeats: { type: 'int', placeholder: 'N', help: `rounds of the alternation engine, tfjs, jax (default ${DEFAULTS.repeats})` },
  warmup: {
    type: 'int',
    placeholder: 'N',
    help: `untimed steps first, from the init on a throwaway state, to compile (default ${DEFAULTS.warmup}; the engine rounds up to whole submits)`,
  },
  libraries: { type: 'string', placeholder: 'LIST', help: `which to run, in this order (default ${LIBRARIES.join(',')})` },
  seed: { type: 'int', placeholder: 'N', help: `seed of the initial weights (default ${DEFAULTS.seed})` },
  data: { type: 'string', placeholder: 'DIR', help: 'MNIST directory (default: $MNIST_DIR, then data/mnist)' },
  timeout: { type: 'int', placeholder: 'S', help: `seconds one library's run may take before it is killed (default ${DEFAULTS.timeout})` },
  out: { type: 'string', placeholder: 'FILE', help: 'write the JSON here (default bench/results/<time>-peers.json)' },
  'json-only': { type: 'bool', help: 'print only the JSON document on stdout (progress stays on stderr)' },
  help: { type: 'bool', help: 'show this help' },
};

const here = dirname(fileURLToPath(import.meta.url));

/** The runner bundle of a library, beside this one (dist/node/peers/<library>.mjs). */
function runnerPath(library: string): string {
  const path = join(here, 'peers', `${library}.mjs`);
  if (!existsSync(path)) {
    throw new InputError(`${path} is missing: run \`npm run bench:peers\`, which installs bench/peers and bundles the runners`);
  }
  return path;
}

/** The exact versions bench/peers pins (its lock file makes them the installed ones). */
function peerVersions(): Record<string, string> {
  try {
    const pkg = JSON.parse(readFileSync(resolve('bench/peers/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    return pkg.dependencies;
  } catch {
    return {};
  }
}

function runChild(library: string, args: string[], timeoutSeconds: number): Promise<RunnerResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [runnerPath(library), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code === 0 && line) {
        done(JSON.parse(line.slice(RESULT_PREFIX.length)) as RunnerResult);
        return;
      }
      const why = signal
        ? `killed by ${signal}${signal === 'SIGKILL' ? ` after --timeout ${timeoutSeconds} s` : ''}`
        : `exit status ${code}`;
      fail(new Error(`${library}: ${why}\n${stderr.trim().split('\n').slice(-12).join('\n')}`));
    });
  });
}

function libraryList(flag: string | undefined): string[] {
  const list = (flag ?? LIBRARIES.join(',')).split(',').map((s) => s.trim());
  for (const l of list) {
    if (!(LIBRARIES as readonly string[]).includes(l)) throw new InputError(`--libraries takes ${LIBRARIES.join(', ')}; got '${l}'`);
  }
  if (list.length === 0 || new Set(list).size !== list.length) throw new InputError('--libraries must name each library once');
  return list;
}

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help) {
    process.stdout.write(`${usage('npm run bench:peers --', FLAGS)}\n`);
    return 0;
  }
  const positive = (name: keyof typeof DEFAULTS, min = 1): number => {
    const v = (flags[name] as number | undefined) ?? DEFAULTS[name];
    if (v < min) throw new InputError(`--${name} must be an integer ≥ ${min}, got ${v}`);
    return v;
  };
  const steps = positive('steps');
  const repeats = positive('repeats');
  const warmup = positive('warmup', 0);
  const seed = positive('seed', 0);
  const timeout = positive('timeout');
  const libraries = libraryList(flags.libraries as string | undefined);
  const data = resolve(resolveDataDir(flags.data as string | undefined));
  libraries.forEach(runnerPath);

  const dir = mkdtempSync(join(tmpdir(), 'bench-peers-'));
  try {
    const init = join(dir, 'init.safetensors');
    const initSha256 = writeInit(init, initialWeights(seed));
    const args = ['--steps', String(steps), '--warmup', String(warmup), '--init', init, '--data', data];
    const environment = { node: process.version, webgpu: webgpuVersion(), ...hostEnvironment() };
    info(`bench:peers: ${libraries.join(', ')} × ${repeats}, ${steps} steps each (+${warmup} warm-up), init seed ${seed}`);

    const runs: Run[] = [];
    for (let repeat = 1; repeat <= repeats; repeat++) {
      for (const library of libraries) {
        const result = await runChild(library, args, timeout);
        const run = { ...result, repeat, msPerStep: (result.trainSeconds / result.steps) * 1000 };
        runs.push(run);
        info(
          `round ${repeat}/${repeats} ${library}: ${run.trainSeconds.toFixed(2)} s (${run.msPerStep.toFixed(1)} ms/step, CPU ${run.trainCpuSeconds.toFixed(1)} s), ` +
            `warm-up ${run.warmupSeconds.toFixed(2)} s, loss ${run.losses[0]!.toFixed(4)} → ${run.losses[run.losses.length - 1]!.toFixed(4)}`,
        );
      }
    }

    const libs = summarize(runs);
    const rs = ratios(runs);
    const losses = agreement(runs);
    const adapters = [...new Set(runs.map((r) => r.adapter))];
    const doc = {
      schema: PEERS_SCHEMA,
      date: new Date().toISOString(),
      command: commandLine(),
      environment,
      peers: peerVersions(),
      adapter: adapters.length === 1 ? adapters[0] : adapters,
      workload: {
        ...WORKLOAD,
        steps,
        warmupSteps: warmup,
        trainSamples: steps * WORKLOAD.batchSize,
        batches: 'the first steps·64 training samples in file order, 64 a step',
        init: { seed, sha256: initSha256, format: 'safetensors, PyTorch names l1.weight [out, in] … l5.bias, U(±1/√fan_in)' },
      },
      timing:
        'trainSeconds: wall time of the timed loop, first step to the last step’s loss read back; trainCpuSeconds: the process’s CPU time in it (lavapipe runs in the process); upload and warm-up (compile) apart',
      order: runs.map((r) => `${r.library}#${r.repeat}`),
      libraries: libs,
      ratios: rs,
      losses,
      runs,
    };
    if (!flags['json-only']) process.stdout.write(`adapter ${doc.adapter}\n${formatSummary(libs, rs, losses, steps)}\n\n`);
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    info(`results written to ${await writeResult(doc, 'peers', flags.out as string | undefined)}`);
    if (!losses.agree) {
      info('error: the losses disagree beyond the tolerance: the libraries did not train the same model on the same data');
      return 1;
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
