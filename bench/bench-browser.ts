/**
 * `npm run bench`: the training benchmark in headless Chromium. Builds the page (bench/page, with
 * Vite) into dist/bench-page, serves it and the MNIST directory (at /mnist/) on 127.0.0.1, starts
 * the system Chromium through puppeteer (never a downloaded browser) with the WebGPU flags of
 * scripts/chromium.ts, and calls the page's `window.runBench(options)`. Prints the table and the
 * JSON document, and writes the JSON to bench/results/. With --kernels it runs the kernel
 * microbenchmarks (bench/kernels.ts) in the page instead.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, ConsoleMessage, Page } from 'puppeteer';
import type { FlagSpec } from '../apps/shared/args.ts';
import puppeteer from 'puppeteer';
import { chromiumArgs, findChromium, serveStatic } from '../apps/shared/chromium.ts';
import { describeAdapter, InputError, resolveDataDir } from '../src/node.ts';
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
  WORKLOAD_FLAGS,
  workloadOptions,
  writeResult,
} from './cli.ts';
import type { PageKernelOptions, PageRunOptions } from './page/main.ts';
import { formatKernelTable, formatTable } from './report.ts';
import type { BenchResult } from './workload.ts';

const PAGE_DIR = 'dist/bench-page';
const VITE_CONFIG = 'bench/vite.config.ts';

const FLAGS: Record<string, FlagSpec> = {
  ...WORKLOAD_FLAGS,
  kernels: { type: 'bool', help: 'run the kernel microbenchmarks in the page instead of training (flags below)' },
  ...KERNEL_FLAGS,
  'no-build': { type: 'bool', help: `use the page already built in ${PAGE_DIR} (default: build it with Vite first)` },
  ...OUTPUT_FLAGS,
};

/** Builds bench/page with Vite. Vite is loaded at run time from node_modules, never bundled into this script. */
async function buildPage(): Promise<void> {
  const specifier = 'vite';
  const vite = (await import(specifier)) as typeof import('vite');
  await vite.build({ configFile: resolve(VITE_CONFIG), logLevel: 'warn' });
}

/** Everything the page says at level error, plus uncaught exceptions and failed requests. */
function watchPage(page: Page, errors: string[]): Promise<never> {
  page.on('console', (message: ConsoleMessage) => {
    const text = message.text();
    if (message.type() === 'error') errors.push(text);
    if (message.type() === 'error' || message.type() === 'warn') info(`[page ${message.type()}] ${text}`);
    else info(`[page] ${text}`);
  });
  page.on('pageerror', (error: unknown) => {
    const text = error instanceof Error ? error.message : String(error);
    errors.push(`uncaught: ${text}`);
    info(`[page uncaught] ${text}`);
  });
  page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? '?'})`));
  return new Promise<never>((_, reject) => {
    page.on('error', (error: Error) => reject(new Error(`the page crashed: ${error.message}`)));
  });
}

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help) {
    process.stdout.write(`${usage('npm run bench --', FLAGS)}\n`);
    return 0;
  }
  const kernels = Boolean(flags.kernels);
  // Flags of the other mode would be silently ignored: refuse them instead.
  const foreign = kernels ? WORKLOAD_FLAGS : KERNEL_FLAGS;
  const own = kernels ? KERNEL_FLAGS : WORKLOAD_FLAGS;
  const misplaced = Object.keys(flags).find((name) => name in foreign && !(name in own));
  if (misplaced) throw new InputError(`--${misplaced} ${kernels ? 'does not apply with --kernels' : 'applies only with --kernels'}`);
  const options = kernels ? undefined : workloadOptions(flags);
  const kernelOptions = kernels ? kernelFlags(flags) : undefined;
  const dataDir = resolveDataDir(flags.data as string | undefined);
  if (!kernels && !existsSync(dataDir)) throw new InputError(`MNIST directory ${dataDir} not found (set --data or MNIST_DIR)`);
  const chromium = findChromium();
  if (!flags['no-build']) {
    const start = performance.now();
    await buildPage();
    info(`page built into ${PAGE_DIR} in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  } else if (!existsSync(`${PAGE_DIR}/index.html`)) {
    throw new InputError(`--no-build: ${PAGE_DIR}/index.html does not exist`);
  }

  const server = await serveStatic(kernels ? { '/': PAGE_DIR } : { '/mnist/': dataDir, '/': PAGE_DIR });
  let browser: Browser | undefined;
  try {
    // protocolTimeout 0: runBench is one CDP call that lasts as long as the training (hours on a CPU adapter).
    browser = await puppeteer.launch({ executablePath: chromium, args: chromiumArgs(), headless: true, protocolTimeout: 0 });
    const version = await browser.version();
    info(`browser: ${version} (${chromium})`);
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    const crashed = watchPage(page, consoleErrors);
    await page.goto(`${server.url}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.benchReady === true, { timeout: 60_000 });
    const context = { command: commandLine(), environment: { browser: version, ...hostEnvironment() } };

    if (kernelOptions) {
      const pageOptions: PageKernelOptions = { ...context, kernels: kernelOptions };
      const result = await Promise.race([page.evaluate((o) => window.runKernelBench(o), pageOptions), crashed]);
      const document = { ...result, consoleErrors };
      if (!flags['json-only']) process.stdout.write(`${formatKernelTable(result)}\n\n`);
      process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      info(`results written to ${await writeResult(document, 'kernels-chrome', flags.out as string | undefined)}`);
      return result.allChecksPassed ? 0 : 1;
    }

    const pageOptions: PageRunOptions = { ...options!, ...context };
    const result = await Promise.race([page.evaluate((o) => window.runBench(o), pageOptions), crashed]);
    const document: BenchResult & { consoleErrors: string[] } = { ...result, consoleErrors };
    info(`adapter: ${describeAdapter(result.adapter)}`);
    if (!flags['json-only']) process.stdout.write(`${formatTable(result)}\n\n`);
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
    info(`results written to ${await writeResult(document, 'chrome', flags.out as string | undefined)}`);
    if (consoleErrors.length > 0) info(`${consoleErrors.length} console error(s) in the page: see "consoleErrors"`);
    return 0;
  } finally {
    await browser?.close().catch(() => {});
    await server.close();
  }
}

runMain(main);
