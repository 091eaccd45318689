// Builds the package's dist/lib/: the two public entries (src/index.ts for browsers and Node,
// src/node.ts for Node with Dawn) as ESM with the WGSL inlined as strings, plus their .d.ts.
// A consumer needs no WGSL plugin and no TypeScript loader. Run by `npm pack` (prepack).
//
// JS: one esbuild build of both entries with code splitting, so what they share (Trainer, the
// error classes, the device) is one module: `instanceof InputError` and a device from
// `createNodeDevice()` work across the two entries. `webgpu` and `node:*` stay imports
// (only the node entry may reach them; test/package.test.ts checks the browser one does not).
// Types: tsc's declaration emit of the same sources; the sources import with `.ts` extensions,
// which tsc copies into the .d.ts verbatim, so each relative specifier is rewritten to `.js`
// (the file beside it is `.d.ts`), and the result is checked for any `.ts`/`.wgsl` left.
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist/lib');
const ENTRIES = { index: 'src/index.ts', node: 'src/node.ts' };
const quiet = process.argv.includes('--quiet');

await rm(OUT, { recursive: true, force: true });
await mkdir(OUT, { recursive: true });

const js = await build({
  absWorkingDir: ROOT,
  entryPoints: ENTRIES,
  outdir: OUT,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  // Neutral: the browser entry must not lean on Node's resolution or globals; Node builtins and
  // the Dawn addon are left as imports for the node entry.
  platform: 'neutral',
  target: 'es2022',
  loader: { '.wgsl': 'text' },
  external: ['webgpu', 'node:*'],
  // Maps carry their sources: the package ships no src/.
  sourcemap: true,
  metafile: true,
  logLevel: quiet ? 'warning' : 'info',
});

// Fail the build, not only the package test, when the browser entry reaches Node or Dawn.
const outputs = js.metafile.outputs;
const reached = [];
const visit = (file, seen = new Set()) => {
  if (seen.has(file)) return;
  seen.add(file);
  for (const i of outputs[file]?.imports ?? []) {
    if (i.external) reached.push(i.path);
    else visit(i.path, seen);
  }
};
visit(relative(ROOT, join(OUT, 'index.js')));
if (reached.length) {
  console.error(`build-lib: the browser entry (src/index.ts) reaches ${[...new Set(reached)].join(', ')}; only src/node.ts may`);
  process.exit(1);
}

/** `from './x.ts'`, `import('./x.ts')`, `declare module './x.ts'` → `.js` (relative specifiers only). */
function rewriteSpecifiers(text) {
  return text.replace(/((?:from|import)\s*\(?\s*|declare module\s+)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2');
}

const config = ts.getParsedCommandLineOfConfigFile(
  join(ROOT, 'tsconfig.json'),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
);
const options = {
  ...config.options,
  noEmit: false,
  declaration: true,
  emitDeclarationOnly: true,
  declarationMap: false,
  // Members the sources mark /** @internal */ (the trainer's delegates' plumbing) are not part of the public types.
  stripInternal: true,
  rootDir: join(ROOT, 'src'),
  outDir: OUT,
};
const program = ts.createProgram({ rootNames: [...Object.values(ENTRIES), 'src/wgsl.d.ts'].map((f) => join(ROOT, f)), options });
const written = [];
const result = program.emit(
  undefined,
  (file, text) => {
    let out = rewriteSpecifiers(text);
    // The public types name GPUDevice, GPUBuffer, ...: the consumer gets them from @webgpu/types (a dependency).
    if (resolve(file) === join(OUT, 'index.d.ts')) out = `/// <reference types="@webgpu/types" />\n${out}`;
    written.push(file);
    ts.sys.writeFile(file, out);
  },
  undefined,
  true,
);
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
if (diagnostics.length) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}

// What the rewrite missed would leave the package's types unresolvable for a consumer.
const leftovers = [];
for (const file of written) {
  const text = await readFile(file, 'utf8');
  for (const m of text.matchAll(/(['"])([^'"\n]*\.(?:ts|wgsl))\1/g)) {
    if (!m[2].endsWith('.d.ts')) leftovers.push(`${relative(ROOT, file)}: ${m[2]}`);
  }
}
if (leftovers.length) {
  console.error(`build-lib: specifiers a consumer cannot resolve:\n  ${leftovers.join('\n  ')}`);
  process.exit(1);
}
const files = await readdir(OUT, { recursive: true });
if (!quiet) console.log(`build-lib: dist/lib has ${files.filter((f) => f.endsWith('.js')).length} .js and ${written.length} .d.ts files`);
