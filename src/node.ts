/**
 * The engine's public entry for Node: everything from the browser entry, plus a device on Dawn
 * (the `webgpu` package), MNIST-layout IDX files from a directory, and crash-safe file writes.
 */
import { acquireNodeGpu } from './runtime/node-device.ts';
import type { AcquireOptions, Gpu } from './runtime/device.ts';

export * from './index.ts';
export { loadMnistDir as loadMnist, downloadMnist, resolveDataDir, verifyMnistFile } from './model/data/mnist-node.ts';
export { writeFileAtomic } from './model/io/atomic-file.ts';
export { checkWritableFile, checkWritableDir, lockDirectory, LOCK_FILE } from './model/io/output-paths.ts';

/** A WebGPU device on Dawn (Vulkan, Metal or D3D12; Mesa's lavapipe where there is no GPU). */
export function createNodeDevice(options: AcquireOptions = {}): Promise<Gpu> {
  return acquireNodeGpu(options);
}
