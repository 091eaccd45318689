/**
 * The page of `npm run bench`: exposes `window.runBench(options)`, which loads MNIST from /mnist/,
 * trains with the engine on `navigator.gpu` and resolves with the result document, and
 * `window.runKernelBench(options)` (`npm run bench -- --kernels`), the kernel microbenchmarks.
 * Progress goes to the console (puppeteer relays it) and to the page.
 */
import { createDevice, loadMnistFrom } from '../../src/index.ts';
import { kernelOptions, runKernelBench, type KernelBenchResult, type KernelFlags } from '../kernels.ts';
import { formatKernelTable, formatTable } from '../report.ts';
import { runWorkload, type BenchResult, type WorkloadOptions } from '../workload.ts';

/** What the page needs besides the options: known only outside it. */
export interface PageContext {
  /** how the bench was started, for the record */
  readonly command: string;
  /** the browser's version (from puppeteer) and the host's */
  readonly environment?: Readonly<Record<string, string | number>>;
}

export interface PageRunOptions extends WorkloadOptions, PageContext {
  /** where the MNIST files are served (default /mnist/) */
  readonly dataUrl?: string;
}

export interface PageKernelOptions extends PageContext {
  readonly kernels: KernelFlags;
}

declare global {
  interface Window {
    runBench(options: PageRunOptions): Promise<BenchResult>;
    runKernelBench(options: PageKernelOptions): Promise<KernelBenchResult>;
    benchReady: boolean;
  }
}

const logElement = document.getElementById('log')!;
function log(line: string): void {
  console.log(line);
  logElement.textContent += `${line}\n`;
}

function environment(o: PageContext): Record<string, string | number> {
  return { ...o.environment, userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency };
}

async function readFrom(base: string, name: string): Promise<Uint8Array | null> {
  const response = await fetch(`${base}${name}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`GET ${base}${name}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

window.runBench = async (options: PageRunOptions): Promise<BenchResult> => {
  const base = options.dataUrl ?? '/mnist/';
  const loadStart = performance.now();
  const data = await loadMnistFrom((name) => readFrom(base, name), base);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const gpu = await createDevice({ label: 'bench' });
  try {
    const result = await runWorkload(gpu, data, options, {
      runtime: 'chrome',
      environment: environment(options),
      command: options.command,
      loadSeconds,
      log,
    });
    logElement.textContent += `\n${formatTable(result)}\n`;
    return result;
  } finally {
    gpu.destroy();
  }
};

window.runKernelBench = async (options: PageKernelOptions): Promise<KernelBenchResult> => {
  const gpu = await createDevice({ label: 'bench.kernels', timestamps: options.kernels.timestamps !== false });
  try {
    const result = await runKernelBench(gpu, kernelOptions(options.kernels, gpu.adapter), {
      runtime: 'chrome',
      environment: environment(options),
      command: options.command,
      log,
    });
    logElement.textContent += `\n${formatKernelTable(result)}\n`;
    return result;
  } finally {
    gpu.destroy();
  }
};

window.benchReady = true;
