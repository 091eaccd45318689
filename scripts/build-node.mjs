// Bundles the Node entry points into dist/node/*.mjs: everything inlined (WGSL as text) except the
// `webgpu` addon and puppeteer, so a bundle runs anywhere `webgpu` sits beside it (the GPU machine).
import { build } from 'esbuild';

const quiet = process.argv.includes('--quiet');
const entries = {
  train: 'cli/train.ts',
  'bench-node': 'bench/bench-node.ts',
  'bench-browser': 'bench/bench-browser.ts',
  'bench-kernels': 'bench/bench-kernels.ts',
  adapter: 'bench/adapter.ts',
};
const { existsSync } = await import('node:fs');
const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file)));
await build({
  entryPoints,
  outdir: 'dist/node',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  external: ['webgpu', 'puppeteer', 'puppeteer-core'],
  logLevel: quiet ? 'warning' : 'info',
});
