import { defineConfig } from 'vitest/config';
import { wgslText } from './scripts/wgsl-plugin.ts';

export default defineConfig({
  plugins: [wgslText()],
  test: {
    include: ['test/**/*.test.ts'],
    // One Dawn device per test file on a 2-core CPU adapter: run files one at a time and give them room.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  },
});
