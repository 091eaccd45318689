/**
 * Every GPU buffer the engine makes goes through here: labelled, counted, destroyed once.
 * `live` is what the leak tests watch.
 */
export class BufferTracker {
  private readonly alive = new Set<GPUBuffer>();
  private bytes = 0;

  constructor(private readonly device: GPUDevice) {}

  create(label: string, size: number, usage: GPUBufferUsageFlags, contents?: ArrayBufferView): GPUBuffer {
    // WebGPU wants sizes (and mapped writes) in multiples of 4 bytes.
    const padded = Math.max(4, Math.ceil(size / 4) * 4);
    const buffer = this.device.createBuffer({ label, size: padded, usage, mappedAtCreation: contents !== undefined });
    if (contents) {
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength));
      buffer.unmap();
    }
    this.alive.add(buffer);
    this.bytes += padded;
    return buffer;
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
