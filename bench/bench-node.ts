/**
 * `npm run bench:node`: the training benchmark through Dawn in Node. Bundled by
 * scripts/build-node.mjs into dist/node/bench-node.mjs, which needs only the `webgpu` package
 * beside it, so the same file runs on the GPU machine (see bench/RESULTS.md for the command).
 */
import { createNodeDevice, describeAdapter, loadMnist, resolveDataDir } from '../src/node.ts';
import {
  commandLine,
  hostEnvironment,
  info,
  OUTPUT_FLAGS,
  parseFlags,
  runMain,
  usage,
  webgpuVersion,
  WORKLOAD_FLAGS,
  workloadOptions,
  writeResult,
} from './cli.ts';
import { formatTable } from './report.ts';
import { runWorkload } from './workload.ts';

const FLAGS = { ...WORKLOAD_FLAGS, ...OUTPUT_FLAGS };

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help) {
    process.stdout.write(`${usage('npm run bench:node --', FLAGS)}\n`);
    return 0;
  }
  const options = workloadOptions(flags);
  const loadStart = performance.now();
  const data = await loadMnist(resolveDataDir(flags.data as string | undefined));
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const gpu = await createNodeDevice({ label: 'bench' });
  try {
    info(`adapter: ${describeAdapter(gpu.adapter)}`);
    const result = await runWorkload(gpu, data, options, {
      runtime: 'node',
      environment: { node: process.version, webgpu: webgpuVersion(), ...hostEnvironment() },
      command: commandLine(),
      loadSeconds,
      log: info,
      cpuClock: () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1e6;
      },
    });
    if (!flags['json-only']) process.stdout.write(`${formatTable(result)}\n\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    info(`results written to ${await writeResult(result, 'node', flags.out as string | undefined)}`);
    return 0;
  } finally {
    gpu.destroy();
  }
}

runMain(main);
