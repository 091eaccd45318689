/**
 * How a kernel family describes itself to the runtime: its WGSL module, and for each entry point
 * the bindings it uses (name → binding number and access). The runtime derives explicit bind-group
 * layouts from this (never `layout: 'auto'`, which drops unused bindings and cannot be shared).
 */

export type Access = 'read' | 'read_write' | 'uniform' | 'uniform_dynamic';

export interface BindingSpec {
  readonly binding: number;
  readonly access: Access;
  /**
   * Another view of the entry's binding of that name (e.g. `x4`, X read as vec4s): bound to the
   * same buffer, which the caller gives once, under the other name. Read-only.
   */
  readonly view?: string;
}

export interface EntrySpec {
  readonly bindings: Readonly<Record<string, BindingSpec>>;
}

export interface KernelFamily<E extends string = string> {
  readonly name: string;
  readonly source: string;
  readonly entries: Readonly<Record<E, EntrySpec>>;
}

export type Overrides = Readonly<Record<string, number | boolean>>;

export type Grid = readonly [number, number, number];

/** The WebGPU cap on workgroups per dispatch dimension. */
export const MAX_GROUPS_PER_DIMENSION = 65_535;

/**
 * A family's WGSL module: its own file first, so the compiler's line numbers are that file's, then
 * the shared shaders/lib/*.wgsl files and the record structs it uses (WGSL resolves module-scope
 * names in any order, so the pieces need no #include).
 */
export function composeWgsl(family: string, ...shared: string[]): string {
  return [family, ...shared].join('\n');
}

export function defineFamily<E extends string>(family: KernelFamily<E>): KernelFamily<E> {
  for (const [entry, spec] of Object.entries<EntrySpec>(family.entries)) {
    if (!new RegExp(`fn\\s+${entry}\\s*\\(`).test(family.source)) {
      throw new Error(`${family.name}.wgsl has no entry point ${entry}`);
    }
    const seen = new Set<number>();
    for (const [name, b] of Object.entries(spec.bindings)) {
      if (seen.has(b.binding)) throw new Error(`${family.name}.${entry}: binding ${b.binding} used twice`);
      seen.add(b.binding);
      if (!new RegExp(`@binding\\(${b.binding}\\)\\s*var(<[^>]*>)?\\s+${name}\\s*:`).test(family.source)) {
        throw new Error(`${family.name}.wgsl declares no binding ${b.binding} named ${name}`);
      }
      const viewed = b.view === undefined ? undefined : spec.bindings[b.view];
      if (b.view !== undefined && (b.access !== 'read' || viewed === undefined || viewed.view !== undefined)) {
        throw new Error(`${family.name}.${entry}: ${name} must be a read-only view of another binding of the entry`);
      }
    }
  }
  return family;
}

/** Reads `const NAME: u32 = 4u;` from a WGSL source, so TypeScript never repeats a number the shader hard-codes. */
export function wgslConst(source: string, name: string): number {
  const match = new RegExp(`const\\s+${name}\\s*:\\s*[uif]32\\s*=\\s*([0-9.]+)[uif]?\\s*;`).exec(source);
  if (!match?.[1]) throw new Error(`WGSL constant ${name} not found`);
  return Number(match[1]);
}

/** Reads an override's default (`override WG: u32 = 256u;`). */
export function wgslOverrideDefault(source: string, name: string): number {
  const match = new RegExp(`override\\s+${name}\\s*:\\s*[uif]32\\s*=\\s*([0-9.]+)[uif]?\\s*;`).exec(source);
  if (!match?.[1]) throw new Error(`WGSL override ${name} has no default`);
  return Number(match[1]);
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/** A 1-D grid of `groups` workgroups, folded into y when it passes the per-dimension cap. */
export function linearGrid(groups: number): Grid {
  if (groups <= MAX_GROUPS_PER_DIMENSION) return [groups, 1, 1];
  const y = ceilDiv(groups, MAX_GROUPS_PER_DIMENSION);
  return [ceilDiv(groups, y), y, 1];
}
