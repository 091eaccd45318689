import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

/** The system Chromium/Chrome (puppeteer never downloads one here): $CHROME_PATH, else the usual install paths. */
export function findChromium(): string {
  const candidates = [
    process.env.CHROME_PATH,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium found (looked at ${candidates.join(', ')}); run: bash scripts/install-system-deps.sh`);
  return found;
}

/**
 * Flags for WebGPU in headless Chromium on Linux: the new headless mode (the old shell has no
 * WebGPU), unsafe-webgpu because Linux ships it behind a flag, Vulkan for a real GPU, and
 * SwiftShader allowed when there is none. Background networking is off: the machine has no
 * internet and the refused connections only slow start-up.
 */
export function chromiumArgs(): string[] {
  return [
    '--headless=new',
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan,WebGPUDeveloperFeatures',
    '--use-angle=vulkan',
    '--enable-unsafe-swiftshader',
    '--ignore-gpu-blocklist',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
  ];
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gz': 'application/octet-stream',
  '.map': 'application/json',
};

/** A static file server on 127.0.0.1 (a random port): `mounts` maps URL prefixes to directories. */
export async function serveStatic(mounts: Record<string, string>): Promise<{ url: string; close(): Promise<void> }> {
  const roots = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : `${prefix}/`, resolve(dir)] as const)
    .sort((a, b) => b[0].length - a[0].length);
  const server: Server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const mount = roots.find(([prefix]) => path.startsWith(prefix) || `${path}/` === prefix);
      if (!mount) throw new Error('no mount');
      let file = normalize(join(mount[1], path.slice(mount[0].length)));
      if (!(file + sep).startsWith(mount[1] + sep) && file !== mount[1]) throw new Error('outside');
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
