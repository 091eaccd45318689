/**
 * Kernel microbenchmarks through Dawn in Node: every kernel of a training step at the MLP's shapes
 * and one large matmul, each checked against a CPU reference before it is timed (bench/kernels.ts).
 * Bundled into dist/node/bench-kernels.mjs (needs only `webgpu` beside it, like bench-node).
 * The same cases run in Chromium with `npm run bench -- --kernels`.
 *
 *   node scripts/build-node.mjs && node dist/node/bench-kernels.mjs [--large 4096] [--only forward]
 */
import type { FlagSpec } from '../apps/shared/args.ts';
import { createNodeDevice, describeAdapter } from '../src/node.ts';
import {
  commandLine,
  hostEnvironment,
  info,
  KERNEL_FLAGS,
  kernelFlags,
  OUTPUT_FLAGS,
  parseFlags,
  runMain,
  usage,
  webgpuVersion,
  writeResult,
} from './cli.ts';
import { kernelOptions, runKernelBench } from './kernels.ts';
import { formatKernelTable } from './report.ts';

const FLAGS: Record<string, FlagSpec> = {
  ...KERNEL_FLAGS,
  ...OUTPUT_FLAGS,
};

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help) {
    process.stdout.write(`${usage('node dist/node/bench-kernels.mjs', FLAGS)}\n`);
    return 0;
  }
  const given = kernelFlags(flags);
  const gpu = await createNodeDevice({ label: 'bench.kernels', timestamps: given.timestamps !== false });
  try {
    info(`adapter: ${describeAdapter(gpu.adapter)}; timestamp queries: ${gpu.hasTimestamps ? 'yes' : 'no'}`);
    const result = await runKernelBench(gpu, kernelOptions(given, gpu.adapter), {
      runtime: 'node',
      environment: { node: process.version, webgpu: webgpuVersion(), ...hostEnvironment() },
      command: commandLine(),
      log: info,
    });
    if (!flags['json-only']) process.stdout.write(`${formatKernelTable(result)}\n\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    info(`results written to ${await writeResult(result, 'kernels-node', flags.out as string | undefined)}`);
    return result.allChecksPassed ? 0 : 1;
  } finally {
    gpu.destroy();
  }
}

runMain(main);
