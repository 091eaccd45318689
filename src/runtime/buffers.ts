/**
 * Every GPU buffer the engine makes goes through here: labelled, counted, destroyed once.
 * `live` is what the leak tests watch.
 */
export class BufferTracker {
  private readonly alive = new Set<GPUBuffer>();
  /** what each buffer was made for, in bytes (rounded to 4), which its GPU size may exceed */
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  private bytes = 0;

  constructor(private readonly device: GPUDevice) {}

  create(label: string, size: number, usage: GPUBufferUsageFlags, contents?: ArrayBufferView): GPUBuffer {
    // WebGPU wants sizes (and mapped writes) in multiples of 4 bytes. Made in multiples of 16, and
    // 16 at least: the kernels see some buffers as vec4s (params_out, opt_state, the subgroup
    // kernels' views x4 and params4), and a vec4 array binding holds whole vec4s only, so the
    // last floats of a buffer of 4n + 2 floats would lie outside it.
    const size4 = Math.ceil(size / 4) * 4;
    const padded = Math.max(16, Math.ceil(size / 16) * 16);
    const buffer = this.device.createBuffer({ label, size: padded, usage, mappedAtCreation: contents !== undefined });
    if (contents) {
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength));
      buffer.unmap();
    }
    this.alive.add(buffer);
    this.sizes.set(buffer, size4);
    this.bytes += padded;
    return buffer;
  }

  /** The bytes a buffer was made for (its GPU size where it was not made here). */
  sizeOf(buffer: GPUBuffer): number {
    return this.sizes.get(buffer) ?? buffer.size;
  }

  destroy(buffer: GPUBuffer | undefined): void {
    if (!buffer || !this.alive.delete(buffer)) return;
    this.bytes -= buffer.size;
    buffer.destroy();
  }

  destroyAll(): void {
    for (const buffer of [...this.alive]) this.destroy(buffer);
  }

  get live(): number {
    return this.alive.size;
  }

  get liveBytes(): number {
    return this.bytes;
  }

  labels(): string[] {
    return [...this.alive].map((b) => b.label);
  }
}
