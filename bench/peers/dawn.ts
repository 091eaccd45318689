/**
 * Dawn's WebGPU (the `webgpu` package, the one the engine uses in Node) as the browser globals the
 * peer libraries look for: `navigator.gpu` and the GPU* constants. Imported first by each peer
 * runner, because TensorFlow.js decides at import time whether WebGPU exists.
 */
import { cpus } from 'node:os';
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const existing = (globalThis as { navigator?: { userAgent?: string; hardwareConcurrency?: number } }).navigator;
Object.defineProperty(globalThis, 'navigator', {
  configurable: true,
  writable: true,
  value: {
    // jax-js reads the user agent (to tell mobile GPUs) and the core count; neither is in Node 20.
    userAgent: existing?.userAgent ?? `Node.js/${process.version}`,
    hardwareConcurrency: existing?.hardwareConcurrency ?? cpus().length,
    gpu: create([]),
  },
});

/** The adapter a library gets from `navigator.gpu` with its default request, in one line (as the engine's bench names it). */
export async function adapterDescription(): Promise<string> {
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  const info = adapter?.info;
  if (!info) return 'no adapter';
  return `${info.vendor || 'unknown vendor'} / ${info.description || info.device || info.architecture || 'unknown device'}`;
}
