import { DeviceLostError, GpuError } from './errors.ts';
import { BufferTracker } from './buffers.ts';
import { PipelineCache } from './pipelines.ts';

/** What the engine tells a person about the adapter it runs on. */
export interface AdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** a software or otherwise degraded adapter (SwiftShader, lavapipe, WARP) */
  readonly isFallback: boolean;
  readonly features: readonly string[];
  /** the adapter's narrowest subgroup (lanes), 0 where it does not say */
  readonly subgroupMinSize: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupStorageSize: number;
}

export interface AcquireOptions {
  readonly powerPreference?: GPUPowerPreference;
  /** request the adapter's `timestamp-query` feature when it has one (benchmarks) */
  readonly timestamps?: boolean;
  readonly label?: string;
  /**
   * the WebGPU implementation waits for a pending map by polling on the host's thread (Dawn's Node
   * binding re-queues a setImmediate tick until it resolves); acquireNodeGpu sets it
   */
  readonly pollsWhileMapping?: boolean;
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|software|warp|basic render/i;

function summarize(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const legacyFallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const infoFallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallback: Boolean(infoFallback ?? legacyFallback) || SOFTWARE_ADAPTER.test(text),
    features: [...adapter.features].sort(),
    subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize ?? 0,
    maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
  };
}

/**
 * Whether waiting for the device takes CPU from the device itself: a pending map polls on the
 * host's thread (pollsWhileMapping) and the device computes on the same cores (a software
 * adapter). The trainer paces its readbacks and the kernel bench its waits where it does.
 */
export function pollCompetesWithDevice(gpu: Pick<Gpu, 'adapter' | 'pollsWhileMapping'>): boolean {
  return gpu.pollsWhileMapping === true && gpu.adapter.isFallback;
}

export function describeAdapter(a: AdapterSummary): string {
  const name = a.description || a.device || a.architecture || 'unknown device';
  return `${a.vendor || 'unknown vendor'} / ${name}${a.isFallback ? ' (software/fallback adapter)' : ''}`;
}

/**
 * One WebGPU device and everything the engine keeps per device: tracked buffers, the pipeline
 * cache, and the device's error and loss state. Works the same with `navigator.gpu` and with
 * Dawn's `webgpu` package in Node.
 */
export class Gpu {
  readonly buffers: BufferTracker;
  readonly pipelines: PipelineCache;
  /** resolves when the device is lost, for whatever reason (including `destroy()`) */
  readonly lost: Promise<DeviceLostError>;
  private lostError: DeviceLostError | undefined;
  private readonly uncaptured: GpuError[] = [];
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    /** AcquireOptions.pollsWhileMapping */
    readonly pollsWhileMapping: boolean,
  ) {
    this.buffers = new BufferTracker(device);
    this.pipelines = new PipelineCache(device);
    this.lost = device.lost.then((info) => {
      const reason = info.reason === 'destroyed' ? 'destroyed' : 'unknown';
      this.lostError = new DeviceLostError(
        reason === 'destroyed' ? 'the GPU device was destroyed' : `the GPU device was lost: ${info.message || 'no reason given'}`,
        reason,
      );
      return this.lostError;
    });
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      const kind = error instanceof GPUOutOfMemoryError ? 'out-of-memory' : error instanceof GPUValidationError ? 'validation' : 'internal';
      this.uncaptured.push(new GpuError(`GPU ${kind} error: ${firstLine(error.message)}`, kind));
    });
  }

  static async acquire(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<Gpu> {
    if (!gpu) throw new GpuError('WebGPU is not available here (no navigator.gpu)', 'internal');
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter) throw new GpuError('no WebGPU adapter was found', 'internal');
    const requiredFeatures: GPUFeatureName[] = [];
    if (options.timestamps && adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
    // The subgroup kernels (tuningFor picks them for lavapipe) enable it in WGSL; nothing else changes.
    if (adapter.features.has('subgroups')) requiredFeatures.push('subgroups' as GPUFeatureName);
    // Ask for the adapter's full buffer sizes: the training set alone is 47 MB, over some defaults.
    const requiredLimits: Record<string, number> = {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      // the subgroup kernels' backward_fused binds 9 (the default is 8); tuningFor checks the adapter's
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    };
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: options.label ?? 'engine' });
    return new Gpu(device, summarize(adapter), options.pollsWhileMapping ?? false);
  }

  get isLost(): boolean {
    return this.lostError !== undefined;
  }

  get hasTimestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /** Throws the first error raised since the last check: device loss, then any uncaptured GPU error. */
  check(): void {
    if (this.lostError && !this.destroyed) throw this.lostError;
    const error = this.uncaptured.shift();
    if (error) {
      this.uncaptured.length = 0;
      throw error;
    }
  }

  /**
   * Runs `create` inside validation and out-of-memory error scopes, and turns an error into a
   * GpuError that names `label` (the object being made).
   */
  async scoped<T>(label: string, create: () => T): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    // The scopes are popped whatever `create` does; a GPU error names the culprit better than what `create` threw.
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: create() };
    } catch (error) {
      outcome = { error };
    }
    const validation = await this.device.popErrorScope();
    const oom = await this.device.popErrorScope();
    if (oom) throw new GpuError(`out of GPU memory while creating ${label}: ${firstLine(oom.message)}`, 'out-of-memory');
    if (validation) throw new GpuError(`invalid ${label}: ${firstLine(validation.message)}`, 'validation');
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  /** queue.writeBuffer for any typed array: ordered after every command buffer already submitted. */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.device.queue.writeBuffer(buffer, offset, data as ArrayBufferView<ArrayBuffer>);
  }

  /** Copies `size` bytes at `offset` of `source` into a fresh ArrayBuffer (one staging buffer, mapped asynchronously). */
  async read(source: GPUBuffer, offset = 0, size = this.buffers.sizeOf(source) - offset): Promise<ArrayBuffer> {
    const staging = this.buffers.create(`${source.label}.readback`, size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      const encoder = this.device.createCommandEncoder({ label: `${source.label}.readback` });
      encoder.copyBufferToBuffer(source, offset, staging, 0, size);
      this.device.queue.submit([encoder.finish()]);
      await this.mapRead(staging);
      const copy = staging.getMappedRange(0, size).slice(0);
      staging.unmap();
      return copy;
    } finally {
      this.buffers.destroy(staging);
    }
  }

  /** Maps a MAP_READ buffer; rejects with the device-loss or GPU error instead of hanging or giving garbage. */
  async mapRead(staging: GPUBuffer): Promise<void> {
    const lost = this.lost.then((error) => {
      throw error;
    });
    try {
      await Promise.race([staging.mapAsync(GPUMapMode.READ), lost]);
    } catch (error) {
      // Chrome rejects a pending mapAsync ("unmapped before mapping was resolved") before
      // device.lost resolves: give the loss a moment to arrive so it is reported as what it is.
      const settled = await Promise.race([this.lost, new Promise<undefined>((ok) => setTimeout(ok, 1000, undefined))]);
      throw settled ?? error;
    }
    this.check();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.buffers.destroyAll();
    this.pipelines.clear();
    this.device.destroy();
  }
}

function firstLine(message: string): string {
  return (
    message
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? message
  );
}
