// The page of `npm run bench` (bench/bench-browser.ts builds it): bench/page → dist/bench-page.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { wgslText } from '../scripts/wgsl-plugin.ts';

const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: resolve(here, 'page'),
  base: './',
  plugins: [wgslText()],
  logLevel: 'warn',
  build: {
    outDir: resolve(here, '../dist/bench-page'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
});
