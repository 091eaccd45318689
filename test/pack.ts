/**
 * The package as a consumer gets it: `npm pack` of the repository (its prepack builds dist/lib)
 * and `npm install <tarball>` in a fresh folder, from npm's cache where it can (the registry is
 * reachable here and in CI, for whatever the cache lacks). Shared by the package test and the
 * browser-example test.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './helpers.ts';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

export interface Packed {
  readonly tarball: string;
  /** paths inside the package, as `npm pack --json` lists them */
  readonly files: readonly string[];
}

/** `npm pack` into `dir` (prepack runs the library build first). */
export async function packInto(dir: string): Promise<Packed> {
  const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, timeout: 180_000, maxBuffer: 16 << 20 });
  // npm prints the JSON after whatever prepack printed.
  const json = JSON.parse(stdout.slice(stdout.indexOf('[')));
  const [info] = json as { filename: string; files: { path: string }[] }[];
  if (!info) throw new Error(`npm pack printed no package: ${stdout}`);
  return { tarball: join(dir, info.filename), files: info.files.map((f) => f.path) };
}

/** A project folder with this package.json and the tarball installed into it (`npm install <tarball>`, which adds the dependency). */
export async function installInto(
  dir: string,
  tarball: string,
  manifest: Record<string, unknown> = { name: 'consumer', private: true, type: 'module' },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  await run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: dir,
    timeout: 300_000,
    maxBuffer: 16 << 20,
  });
}
