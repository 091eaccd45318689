/**
 * What a model, batch and data set need from the device, checked against `device.limits` before
 * any GPU object is made: a run that cannot fit is refused with one line naming the limit, both
 * sizes and what to change, rather than failing later with a raw validation error.
 */
import type { Optimizer } from '../optimizers.ts';
import { InputError } from '../../runtime/errors.ts';
import { denseGrid, splitPartialFloats, type DenseEntry } from '../../kernels/dense.ts';
import { StepStat } from '../../kernels/records.ts';
import { MAX_WORKGROUP } from '../../kernels/softmax-ce.ts';
import type { Dataset } from '../data/dataset.ts';
import { paramLayout } from '../layout.ts';
import type { Tuning } from '../programs/tuning.ts';

/** The limits the check reads (a GPUSupportedLimits has them all). */
export type NeededLimits = Pick<
  GPUSupportedLimits,
  | 'maxStorageBufferBindingSize'
  | 'maxBufferSize'
  | 'maxComputeWorkgroupStorageSize'
  | 'maxComputeWorkgroupsPerDimension'
  | 'maxComputeInvocationsPerWorkgroup'
>;

export interface LimitsPlan {
  readonly layers: readonly number[];
  readonly batchSize: number;
  readonly evalBatchSize: number;
  readonly tuning: Tuning;
  readonly train: Dataset;
  readonly test?: Dataset | undefined;
  /** its state tensors are one buffer, each flat like the parameters */
  readonly optimizer?: Optimizer;
}

const MIB = 1024 * 1024;

function bytes(n: number): string {
  const text = n.toLocaleString('en-US');
  return n >= MIB ? `${text} bytes (${(n / MIB).toFixed(1)} MiB)` : `${text} bytes`;
}

/** Buffer sizes: each must fit one storage binding (and so one buffer). */
function bufferNeeds(p: LimitsPlan, limit: number): { what: string; size: number; fix: string }[] {
  const layout = paramLayout(p.layers);
  const widest = Math.max(...p.layers);
  const evalRows = p.test ? Math.min(p.evalBatchSize, p.test.count) : 0;
  const perRow = widest * 4;
  const rows = Math.floor(limit / perRow);
  return [
    {
      what: `the parameters (${layout.totalFloats.toLocaleString('en-US')} floats of layers ${p.layers.join(',')})`,
      size: layout.totalFloats * 4,
      fix: 'use smaller layers',
    },
    ...(p.optimizer && p.optimizer.kind !== 'sgd'
      ? [
          {
            what: `the ${p.optimizer.kind} state (exp_avg and exp_avg_sq of ${layout.totalFloats.toLocaleString('en-US')} parameters)`,
            size: 2 * layout.totalFloats * 4,
            fix: 'use smaller layers or SGD',
          },
        ]
      : []),
    {
      what: `the activations of a batch (${p.batchSize} rows × ${widest} features of the widest layer)`,
      size: p.batchSize * perRow,
      fix: rows >= 1 ? `use a batch size of at most ${rows} or a narrower widest layer` : 'use a narrower widest layer',
    },
    {
      what: `the evaluation activations (${evalRows} rows × ${widest} features)`,
      size: evalRows * perRow,
      fix: rows >= 1 ? `use an evaluation batch size of at most ${rows} or a narrower widest layer` : 'use a narrower widest layer',
    },
    ...[p.train, p.test].flatMap((d) =>
      d
        ? [
            {
              what: `the features of ${d.name} (${d.count} samples × ${d.featureCount})`,
              size: d.features.byteLength,
              fix: 'use fewer samples',
            },
            { what: `the sample order of ${d.name} (${d.count} samples)`, size: d.count * 4, fix: 'use fewer samples' },
          ]
        : [],
    ),
    {
      what: `the losses of an epoch (${Math.ceil(p.train.count / p.batchSize)} steps)`,
      size: Math.ceil(p.train.count / p.batchSize) * StepStat.size,
      fix: 'use a larger batch size',
    },
  ];
}

const ENTRIES: readonly DenseEntry[] = ['forward', 'grad_input', 'grad_weight', 'backward_fused'];

/**
 * Throws an InputError naming the first limit of `limits` that the plan does not fit: storage
 * binding and buffer sizes, workgroup memory and size of the kernels the tuning picks, and the
 * workgroups per dispatch dimension of every dense layer's kernels.
 */
export function checkLimits(limits: NeededLimits, p: LimitsPlan): void {
  for (const need of bufferNeeds(p, Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize))) {
    for (const name of ['maxStorageBufferBindingSize', 'maxBufferSize'] as const) {
      if (need.size > limits[name]) {
        throw new InputError(`${need.what} need ${bytes(need.size)}, over the device's ${name} of ${bytes(limits[name])}: ${need.fix}`);
      }
    }
  }
  const t = p.tuning.matmul;
  const workgroupBytes = Math.max(splitPartialFloats(t) * 4, MAX_WORKGROUP * 8);
  if (workgroupBytes > limits.maxComputeWorkgroupStorageSize) {
    throw new InputError(
      `the ${t.variant} kernels need ${bytes(workgroupBytes)} of workgroup memory, over the device's ` +
        `maxComputeWorkgroupStorageSize of ${bytes(limits.maxComputeWorkgroupStorageSize)}: choose another kernel tuning`,
    );
  }
  const invocations = Math.max(t.wgX * t.wgY * t.split, MAX_WORKGROUP);
  if (invocations > limits.maxComputeInvocationsPerWorkgroup) {
    throw new InputError(
      `the ${t.variant} kernels run ${invocations} invocations a workgroup, over the device's ` +
        `maxComputeInvocationsPerWorkgroup of ${limits.maxComputeInvocationsPerWorkgroup}: choose another kernel tuning`,
    );
  }
  const layout = paramLayout(p.layers);
  const rowCounts = [p.batchSize, p.test ? Math.min(p.evalBatchSize, p.test.count) : 0].filter((r) => r > 0);
  for (const rows of rowCounts) {
    for (const [l, d] of layout.dense.entries()) {
      for (const entry of ENTRIES) {
        const grid = denseGrid(entry, { rows, ...d }, t);
        const over = grid.find((g: number) => g > limits.maxComputeWorkgroupsPerDimension);
        if (over !== undefined) {
          throw new InputError(
            `layer ${l + 1} (${d.inFeatures} → ${d.outFeatures}) at ${rows} rows needs ${over} workgroups along one ` +
              `dispatch dimension, over the device's maxComputeWorkgroupsPerDimension of ` +
              `${limits.maxComputeWorkgroupsPerDimension}: use a smaller batch size or narrower layers`,
          );
        }
      }
    }
  }
}
