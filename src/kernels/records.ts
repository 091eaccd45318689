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
 * The per-step parameters the kernels read from a StepTable at a dynamic offset: which stats slot
 * a step writes and where its batch starts in the epoch's order (gather, loss), and the optimizer's
 * values of that step, computed in float64 on the CPU as torch.optim does and rounded once
 * (src/kernels/optimizer.ts stepValues): `lr` after the schedule; Adam's `step_size` = lr / (1 − β1^t)
 * and `bc2_sqrt` = √(1 − β2^t); AdamW's `decay` = 1 − lr·weight_decay; `first` is 1 on the
 * optimizer's first step (SGD's momentum buffer starts as the gradient, undamped).
 */
export const StepParams = defineRecord(
  'StepParams',
  { slot: 'u32', batch_start: 'u32', lr: 'f32', step_size: 'f32', bc2_sqrt: 'f32', decay: 'f32', first: 'u32' },
  { uniform: true },
);

/**
 * What a training step (or an evaluation chunk) leaves for the host: the batch's mean loss, its
 * count of correct predictions, and `nonfinite`, raised (non-zero) by the step's updates when a new
 * parameter or optimizer-state value is NaN or ±Inf (the loss kernel writes it 0 first).
 */
export const StepStat = defineRecord('StepStat', { loss: 'f32', correct: 'u32', nonfinite: 'u32' });

/** u32 words of a StepStat and the word of its `nonfinite` flag, for kernels that raise it through an atomic view of the stats. */
export const stepStatFlagWgsl =
  `const STEP_STAT_WORDS: u32 = ${StepStat.size / 4}u;\n` +
  `const STEP_STAT_NONFINITE: u32 = ${StepStat.fields.find((f) => f.name === 'nonfinite')!.offset / 4}u;\n`;

/**
 * The optimizer's hyper-parameters that stay fixed through a run, one uniform every updating
 * kernel reads (shaders/lib/optimizer_update.wgsl); the per-step ones are StepParams'. Factors such
 * as 1 − β1 are computed in float64 and rounded once, as torch passes them to its kernels.
 * `state_stride`: floats between one optimizer-state tensor and the next in the flat state buffer
 * (Adam's exp_avg_sq follows its exp_avg). A new hyper-parameter is one more line here.
 */
export const Hyper = defineRecord(
  'Hyper',
  {
    momentum: 'f32',
    dampening_keep: 'f32',
    nesterov: 'u32',
    weight_decay: 'f32',
    beta1: 'f32',
    one_minus_beta1: 'f32',
    beta2: 'f32',
    one_minus_beta2: 'f32',
    eps: 'f32',
    state_stride: 'u32',
  },
  { uniform: true },
);

/**
 * A dense layer's shape at one batch size, read by every dense kernel (shaders/lib/dense_common.wgsl):
 * X is (m, k), W is (n, k) at params[w_off ..], b is (n) at params[b_off ..].
 */
export const DenseDims = defineRecord('DenseDims', { m: 'u32', n: 'u32', k: 'u32', w_off: 'u32', b_off: 'u32' }, { uniform: true });

export type HyperValues = RecordValues<(typeof Hyper)['fields'][number]['name']>;
export type StepStatValues = RecordValues<(typeof StepStat)['fields'][number]['name']>;
