/**
 * Byte layouts shared by TypeScript and WGSL, each declared once here: the WGSL struct text (which
 * the kernel specs append to their sources), the byte size and the readers and writers all come
 * from the one field list. Fields are 4-byte scalars, so WGSL's alignment is 4 and a struct's size
 * is 4 bytes a field; a uniform record is padded to 16 bytes with `_padN` fields, as WGSL's
 * uniform address space lays out structs.
 */

export type ScalarType = 'f32' | 'u32' | 'i32';

/** `weight_decay` → `weightDecay`: WGSL's field names are snake_case, TypeScript's camelCase. */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

export type RecordValues<F extends string> = { [K in F as CamelCase<K>]: number };

export interface RecordLayout<F extends string> {
  /** the WGSL struct's name */
  readonly name: string;
  /** WGSL field names in order, with their types (padding not included) */
  readonly fields: readonly { readonly name: F; readonly type: ScalarType; readonly offset: number }[];
  /** bytes of one record, padding included */
  readonly size: number;
  /** `struct Name { ... }` */
  readonly wgsl: string;
  /** record `index` of a packed array of records starting at `byteOffset` */
  read(source: ArrayBuffer | DataView, index?: number, byteOffset?: number): RecordValues<F>;
  write(target: ArrayBuffer | DataView, values: RecordValues<F>, index?: number, byteOffset?: number): void;
  /** one record's bytes */
  bytes(values: RecordValues<F>): Uint8Array<ArrayBuffer>;
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function defineRecord<F extends string>(
  name: string,
  fields: Readonly<Record<F, ScalarType>>,
  { uniform = false }: { uniform?: boolean } = {},
): RecordLayout<F> {
  const list = (Object.entries(fields) as [F, ScalarType][]).map(([field, type], i) => ({ name: field, type, offset: 4 * i }));
  const padded = uniform ? Math.ceil(list.length / 4) * 4 : list.length;
  const size = 4 * Math.max(padded, 1);
  const lines = list.map((f) => `  ${f.name}: ${f.type},`);
  for (let p = 0; p < padded - list.length; p++) lines.push(`  _pad${p}: u32,`);
  const wgsl = `struct ${name} {\n${lines.join('\n')}\n}\n`;
  const view = (b: ArrayBuffer | DataView) => (b instanceof DataView ? b : new DataView(b));
  const layout: RecordLayout<F> = {
    name,
    fields: list,
    size,
    wgsl,
    read(source, index = 0, byteOffset = 0) {
      const v = view(source);
      const base = byteOffset + index * size;
      const out: Record<string, number> = {};
      for (const f of list) {
        const at = base + f.offset;
        out[camel(f.name)] = f.type === 'f32' ? v.getFloat32(at, true) : f.type === 'u32' ? v.getUint32(at, true) : v.getInt32(at, true);
      }
      return out as RecordValues<F>;
    },
    write(target, values, index = 0, byteOffset = 0) {
      const v = view(target);
      const base = byteOffset + index * size;
      const given = values as Record<string, number>;
      for (const f of list) {
        const value = given[camel(f.name)];
        if (value === undefined) throw new Error(`${name}: no value for ${camel(f.name)}`);
        const at = base + f.offset;
        if (f.type === 'f32') v.setFloat32(at, value, true);
        else if (f.type === 'u32') v.setUint32(at, value, true);
        else v.setInt32(at, value, true);
      }
    },
    bytes(values) {
      const out = new Uint8Array(size);
      layout.write(out.buffer, values);
      return out;
    },
  };
  return layout;
}

/** WGSL text of several records, to append to a kernel family's source. */
export function recordsWgsl(...records: readonly RecordLayout<string>[]): string {
  return records.map((r) => r.wgsl).join('\n');
}

/**
 * The per-step parameters the gather and the loss kernels read from a StepTable at a dynamic
 * offset: which stats slot a step writes and where its batch starts in the epoch's order.
 */
export const StepParams = defineRecord('StepParams', { slot: 'u32', batch_start: 'u32' }, { uniform: true });

/** What a training step (or an evaluation chunk) leaves for the host: the batch's mean loss and its count of correct predictions. */
export const StepStat = defineRecord('StepStat', { loss: 'f32', correct: 'u32' });

/**
 * The optimizer's hyper-parameters, one uniform every updating kernel reads
 * (shaders/lib/optimizer_update.wgsl). A new hyper-parameter is one more line here.
 */
export const Hyper = defineRecord('Hyper', { lr: 'f32', momentum: 'f32', weight_decay: 'f32' }, { uniform: true });

export type HyperValues = RecordValues<(typeof Hyper)['fields'][number]['name']>;
export type StepStatValues = RecordValues<(typeof StepStat)['fields'][number]['name']>;
