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

export function acquireNodeGpu(options: AcquireOptions = {}): Promise<Gpu> {
  return Gpu.acquire(nodeWebGpu(), options);
}
