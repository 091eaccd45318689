import { readFile } from 'node:fs/promises';
import type { Plugin } from 'vite';

/** Lets `import source from './x.wgsl'` give the file's text in Vite and Vitest, as esbuild's text loader does for the Node bundles. */
export function wgslText(): Plugin {
  return {
    name: 'wgsl-text',
    enforce: 'pre',
    async load(id) {
      if (!id.endsWith('.wgsl')) return null;
      const source = await readFile(id, 'utf8');
      return { code: `export default ${JSON.stringify(source)};`, map: null };
    },
  };
}
