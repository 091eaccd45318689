import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Plugin } from 'vite';
// Not the public entry: the config is bundled for Node without the WGSL plugin, and src/index.ts reaches the kernels' .wgsl files.
import { MNIST_FILES } from '../src/model/data/mnist.ts';
import { wgslText } from '../scripts/wgsl-plugin.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');

/**
 * The page's Content-Security-Policy: only this origin's scripts (no inline ones), fetches to
 * this origin only. Built pages only: the dev server injects its client and styles in ways a
 * strict policy forbids.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  // The engine runs in a module worker built from this origin.
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'none'",
].join('; ');

function contentSecurityPolicy(): Plugin {
  return {
    name: 'demo-csp',
    apply: 'build',
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY }, injectTo: 'head-prepend' },
    ],
  };
}

/** Only the MNIST file names are served, from MNIST_DIR (else data/mnist): nothing else in that folder. */
const SERVED = new Set(Object.values(MNIST_FILES).flatMap((base) => [base, `${base}.gz`]));

/** Serves the MNIST directory at /mnist/ in `vite` and `vite preview`, so the page can fetch the data. */
function serveMnist(): Plugin {
  const dir = resolve(repo, process.env.MNIST_DIR ?? 'data/mnist');
  const handler: Connect.NextHandleFunction = (req: IncomingMessage, res: ServerResponse, next) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\//, '');
    if (!SERVED.has(name)) return next();
    const file = join(dir, name);
    stat(file).then(
      (info) => {
        // Raw bytes, never Content-Encoding: the page unzips the .gz files itself.
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(info.size),
          'cache-control': 'no-cache',
        });
        createReadStream(file).pipe(res);
      },
      () => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`${name} is not in ${dir}`);
      },
    );
  };
  return {
    name: 'demo-mnist',
    configureServer(server) {
      server.config.logger.info(`  MNIST: serving ${dir} at /mnist/`);
      server.middlewares.use('/mnist', handler);
    },
    configurePreviewServer(server) {
      server.middlewares.use('/mnist', handler);
    },
  };
}

export default defineConfig({
  root: here,
  // Relative asset URLs: the built site works from any folder of any static host.
  base: './',
  plugins: [wgslText(), serveMnist(), contentSecurityPolicy()],
  build: {
    outDir: resolve(repo, 'dist/demo'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  // The engine's worker is an ES module (it imports the engine like the page does).
  worker: { format: 'es', plugins: () => [wgslText()] },
  server: { fs: { allow: [repo] } },
});
