import type { Access, KernelFamily, Overrides } from '../kernels/spec.ts';

function layoutEntry(binding: number, access: Access): GPUBindGroupLayoutEntry {
  const buffer: GPUBufferBindingLayout =
    access === 'read'
      ? { type: 'read-only-storage' }
      : access === 'read_write'
        ? { type: 'storage' }
        : { type: 'uniform', hasDynamicOffset: access === 'uniform_dynamic' };
  return { binding, visibility: GPUShaderStage.COMPUTE, buffer };
}

export interface Kernel {
  readonly family: KernelFamily;
  readonly entry: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly label: string;
}

/**
 * Shader modules, bind-group layouts and compute pipelines, each made once per device.
 * Pipelines are keyed by (family, entry point, sorted overrides) and compiled asynchronously;
 * a compile already in flight is shared, never started twice.
 */
export class PipelineCache {
  private readonly modules = new Map<KernelFamily, GPUShaderModule>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, Promise<Kernel>>();
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  private module(family: KernelFamily): GPUShaderModule {
    let module = this.modules.get(family);
    if (!module) {
      module = this.device.createShaderModule({ label: family.name, code: family.source });
      this.modules.set(family, module);
    }
    return module;
  }

  layout(family: KernelFamily, entry: string): GPUBindGroupLayout {
    const key = `${family.name}.${entry}`;
    let layout = this.layouts.get(key);
    if (!layout) {
      const spec = family.entries[entry];
      if (!spec) throw new Error(`${family.name} has no entry point ${entry}`);
      layout = this.device.createBindGroupLayout({
        label: key,
        entries: Object.values(spec.bindings).map((b) => layoutEntry(b.binding, b.access)),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  get(family: KernelFamily, entry: string, overrides: Overrides): Promise<Kernel> {
    const constants = Object.fromEntries(
      Object.entries(overrides)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]),
    );
    const key = JSON.stringify([family.name, entry, constants]);
    let pending = this.pipelines.get(key);
    if (!pending) {
      const label = `${family.name}.${entry}`;
      const layout = this.layout(family, entry);
      pending = this.device
        .createComputePipelineAsync({
          label,
          layout: this.device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
          compute: { module: this.module(family), entryPoint: entry, constants },
        })
        .then(
          (pipeline) => {
            this.compiled++;
            return { family, entry, pipeline, layout, label };
          },
          (error: unknown) => {
            this.pipelines.delete(key);
            const message = error instanceof Error ? error.message : String(error);
            throw new Error(`cannot compile ${label} ${JSON.stringify(constants)}: ${message}`);
          },
        );
      this.pipelines.set(key, pending);
    }
    return pending;
  }

  get size(): number {
    return this.pipelines.size;
  }

  clear(): void {
    this.pipelines.clear();
    this.layouts.clear();
    this.modules.clear();
  }
}

export type BindingResource = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** A bind group for `kernel`, checked against its family's spec so a missing or extra name fails here, by name. */
export function bindGroup(
  device: GPUDevice,
  kernel: Kernel,
  label: string,
  resources: Readonly<Record<string, BindingResource>>,
): GPUBindGroup {
  const spec = kernel.family.entries[kernel.entry];
  if (!spec) throw new Error(`${kernel.label}: no such entry point`);
  for (const name of Object.keys(resources)) {
    if (!(name in spec.bindings) || spec.bindings[name]!.view !== undefined)
      throw new Error(`${kernel.label} has no binding named ${name}`);
  }
  const entries = Object.entries(spec.bindings).map(([name, b]) => {
    const resource = resources[b.view ?? name];
    if (!resource) throw new Error(`${label}: binding ${name} of ${kernel.label} is not given`);
    return { binding: b.binding, resource: 'buffer' in resource ? resource : { buffer: resource } };
  });
  return device.createBindGroup({ label, layout: kernel.layout, entries });
}

export function dispatch(
  pass: GPUComputePassEncoder,
  kernel: Kernel,
  group: GPUBindGroup,
  grid: readonly [number, number, number],
  dynamicOffsets?: number[],
): void {
  pass.setPipeline(kernel.pipeline);
  if (dynamicOffsets) pass.setBindGroup(0, group, dynamicOffsets);
  else pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
}
