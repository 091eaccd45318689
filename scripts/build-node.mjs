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
  'bench-peers': 'bench/bench-peers.ts',
  'peers/engine': 'bench/peers/engine.ts',
};
const { existsSync } = await import('node:fs');
const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file)));
const common = {
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
};
await build({ ...common, entryPoints });

// The peer libraries' runners for `npm run bench:peers`, once bench/peers has its own
// node_modules (scripts/ensure-peers.sh installs it). The libraries are inlined too, so the
// bundles travel like the others. TensorFlow.js's CommonJS parts call require('util') and the
// like, which an ES module bundle only has through createRequire; the ES module builds come first.
if (existsSync('bench/peers/node_modules/.package-lock.json')) {
  await build({
    ...common,
    entryPoints: { 'peers/tfjs': 'bench/peers/tfjs.ts', 'peers/jax': 'bench/peers/jax.ts' },
    mainFields: ['module', 'main'],
    banner: {
      js: "import { createRequire as peersCreateRequire } from 'node:module'; const require = peersCreateRequire(import.meta.url);",
    },
  });
}
