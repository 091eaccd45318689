import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { Gpu, type AcquireOptions } from './device.ts';

let installed: GPU | undefined;

/** Dawn's WebGPU for Node: installs the WebGPU globals (GPUBufferUsage, …) once and returns `navigator.gpu`'s equivalent. */
export function nodeWebGpu(): GPU {
  if (!installed) {
    Object.assign(globalThis, globals);
    installed = create([]);
  }
  return installed;
}

/**
 * Notices Dawn prints (from native code, straight to file descriptor 2) while it enumerates
 * adapters, about limits it clamps for its own bookkeeping: nothing a user can act on, and the
 * engine never uses those limits. Every other line Dawn prints is passed on.
 */
export const DAWN_CHATTER =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

let sequence = 0;

/**
 * Runs `work` with file descriptor 2 pointed at a temporary file, then restores it and writes
 * what native code printed meanwhile back to stderr, less the lines `drop` matches. Node has no
 * dup2, so this closes fd 2 and reopens the lowest free descriptor (2, with 0 and 1 open) — first
 * on the file, then on /proc/self/fd/<saved> (or /dev/fd/<saved>), the original stderr. Wherever
 * one of those steps is not possible (Windows, stdin closed, a socket as stderr) `work` just runs
 * unfiltered. Only for short native calls: JavaScript writes to stderr in between would be captured too.
 */
export async function withNativeStderrFiltered<T>(drop: RegExp, work: () => Promise<T>): Promise<T> {
  const self = process.platform === 'linux' ? '/proc/self/fd' : process.platform === 'darwin' ? '/dev/fd' : undefined;
  let saved: number | undefined;
  const file = join(tmpdir(), `.dawn-stderr-${process.pid}-${sequence++}.log`);
  try {
    if (!self) throw new Error('unsupported');
    saved = openSync(`${self}/2`, 'a');
    closeSync(2);
    const sink = openSync(file, 'w');
    if (sink !== 2) {
      closeSync(sink);
      throw new Error('fd 2 not reusable');
    }
  } catch {
    restore(self, saved);
    return work();
  }
  try {
    return await work();
  } finally {
    restore(self, saved);
    try {
      const text = readFileSync(file, 'utf8');
      const kept = text.split('\n').filter((line, i, all) => !(drop.test(line) || (line === '' && i === all.length - 1)));
      if (kept.length) writeSync(2, `${kept.join('\n')}\n`);
    } catch {
      // nothing was captured
    }
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
}

/** Points fd 2 back at the stream saved as `saved` (when fd 2 was closed) and closes `saved`. */
function restore(self: string | undefined, saved: number | undefined): void {
  if (saved === undefined || !self) return;
  try {
    // Probe: is fd 2 still open on the original stream (the redirect never happened)?
    const probe = openSync(`${self}/${saved}`, 'a');
    if (probe !== 2) {
      // fd 2 is taken (by the sink): close it and take its place.
      closeSync(probe);
      closeSync(2);
      const again = openSync(`${self}/${saved}`, 'a');
      if (again !== 2) closeSync(again);
    }
  } catch {
    // stderr stays wherever it is; nothing better is possible here
  }
  closeSync(saved);
}

export function acquireNodeGpu(options: AcquireOptions = {}): Promise<Gpu> {
  const gpu = nodeWebGpu();
  const quiet = {
    requestAdapter: (o?: GPURequestAdapterOptions) => withNativeStderrFiltered(DAWN_CHATTER, () => gpu.requestAdapter(o)),
  } as GPU;
  return Gpu.acquire(quiet, { pollsWhileMapping: true, ...options });
}
