/** The human-readable table of a training benchmark result (the JSON document follows it). */
import { describeAdapter } from '../src/index.ts';
import type { KernelBenchResult } from './kernels.ts';
import type { BenchResult } from './workload.ts';

export function fixed(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

export function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : `${(100 * v).toFixed(2)}%`;
}

/** Right-aligns every column but the first; `rows[0]` is the header. */
export function alignTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatTable(r: BenchResult): string {
  const w = r.workload;
  const env = Object.entries(r.environment)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const head = [
    `adapter     ${describeAdapter(r.adapter)}${r.isFallback ? '' : ' (hardware)'}`,
    `runtime     ${r.runtime}: ${env}`,
    `workload    ${w.layers.join('-')}, batch ${w.batchSize}, ${w.trainSamples}/${w.testSamples} train/test samples, ` +
      `${w.stepsPerEpoch} steps/epoch, ${r.totalSteps} steps run`,
    `per step    ${r.dispatchesPerStep} dispatches, ${fixed(r.perStep.flops / 1e6, 1)} MFLOP, ${fixed(r.perStep.bytes / 1e6, 2)} MB minimal traffic; ` +
      `${r.stepsPerSubmit} steps/submit, ${w.maxInFlight} submits in flight, matmul ${w.matmul.variant} ${w.matmul.wgX}×${w.matmul.wgY}${w.matmul.split > 1 ? `×${w.matmul.split}` : ''}`,
    `set-up      data ${fixed(r.loadSeconds, 2)} s, compile+upload ${fixed(r.compileSeconds, 2)} s (${r.pipelinesCompiled} pipelines), ` +
      `warm-up ${fixed(r.warmupSeconds, 3)} s (first submit: ${r.firstSubmit.steps} steps in ${fixed(r.firstSubmit.seconds, 3)} s), ` +
      `steady ${fixed(r.steadyStepMilliseconds, 2)} ms/step, host encoding ${fixed(r.encodeStepMicroseconds, 1)} µs/step`,
  ];
  const rows = [
    ['epoch', 'steps', 'train s', 'CPU s', 'samples/s', 'GFLOP/s', 'train loss', 'train acc', 'test loss', 'test acc', 'eval s'],
    ...r.epochs.map((e) => [
      `${e.epoch}${e.partial ? ' (partial)' : ''}`,
      String(e.steps),
      fixed(e.seconds, 2),
      fixed(e.cpuSeconds, 1),
      fixed(e.samplesPerSecond, 0),
      fixed(e.gflopsPerSecond, 2),
      fixed(e.trainLoss, 4),
      percent(e.trainAccuracy),
      fixed(e.testLoss, 4),
      percent(e.testAccuracy),
      fixed(e.evalSeconds, 2),
    ]),
    [
      'all',
      String(r.totalSteps),
      fixed(r.trainSeconds, 2),
      '',
      fixed(r.samplesPerSecond, 0),
      fixed(r.gflopsPerSecond, 2),
      '',
      '',
      '',
      '',
      '',
    ],
  ];
  const to97 =
    r.timeTo97Seconds === null
      ? `time to 97% test accuracy: not reached in ${r.epochs.length} epoch(s)`
      : `time to 97% test accuracy: ${r.timeTo97Seconds.toFixed(2)} s of training (epoch ${r.epochTo97})`;
  return `${head.join('\n')}\n\n${alignTable(rows)}\n\n${to97}`;
}

function micro(us: number): string {
  return us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : us >= 100 ? `${us.toFixed(0)} µs` : `${us.toFixed(1)} µs`;
}

/** The kernel benchmark's table, then each training step's breakdown by dispatch, and the replayed steps. */
export function formatKernelTable(r: KernelBenchResult): string {
  const head = [
    `adapter     ${describeAdapter(r.adapter)}${r.isFallback ? '' : ' (hardware)'}`,
    `runtime     ${r.runtime}: ${Object.entries(r.environment)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `matmul      ${r.variants.map((v) => `[${v.name}] ${v.tuning}${v.trainerDefault ? " (the trainer's choice here)" : ''}`).join('; ')}`,
    `timing      ${r.hasTimestamps && r.options.timestamps ? 'timestamp queries at the ends of each pass' : 'wall clock, submit to onSubmittedWorkDone'}; ` +
      `median of passes of back-to-back dispatches; GFLOP/s and GB/s from the minimal work (bench/costs.ts)`,
  ];
  const rows = [
    ['kernel', 'shape', 'grid', 'check (max err)', 'µs/dispatch', 'wall µs', 'GFLOP/s', 'GB/s', 'reps×passes'],
    ...r.cases.map((c) => [
      c.name,
      c.what,
      c.grid.join('×'),
      `${c.check.ok ? 'ok' : 'FAIL'} ${c.check.maxAbsError.toExponential(1)}`,
      c.timing ? fixed(c.timing.microsecondsPerDispatch, 1) : '-',
      c.timing ? fixed(c.timing.wallMicrosecondsPerDispatch, 1) : '-',
      c.timing ? fixed(c.timing.gflopsPerSecond, 2) : '-',
      c.timing ? fixed(c.timing.gbPerSecond, 2) : '-',
      c.timing ? `${c.timing.reps}×${c.timing.samples}` : '-',
    ]),
  ];
  const steps = r.steps
    .filter((s) => s.parts.length > 0)
    .map((s) => {
      const replay = r.replays.find((p) => p.variant === s.variant && p.fusedUpdate === s.fusedUpdate);
      const title =
        `training step [${s.variant}]${s.trainerDefault ? ' (trainer default)' : ''}, ${s.fusedUpdate ? 'fused update' : 'unfused update'}: ` +
        `${s.dispatches} dispatches, Σ isolated ${micro(s.microseconds)}` +
        (replay ? `; replayed back to back ${micro(replay.timing.microsecondsPerDispatch)}/step` : '');
      const lines = [...s.parts]
        .sort((a, b) => b.microseconds - a.microseconds)
        .map((p) => `  ${p.name.padEnd(28)} ${micro(p.microseconds).padStart(9)}  ${(100 * p.share).toFixed(1).padStart(5)}%`);
      const missing = s.missing.length ? [`  not timed: ${s.missing.join(', ')}`] : [];
      return [title, ...lines, ...missing].join('\n');
    });
  const failed = [
    ...r.cases.filter((c) => !c.check.ok).map((c) => c.name),
    ...r.replays.filter((p) => !p.finite).map((p) => `replay [${p.variant}]`),
  ];
  const verdict = failed.length ? `CHECK FAILED: ${failed.join(', ')}` : `all ${r.cases.length} kernels match their CPU references`;
  return `${head.join('\n')}\n\n${alignTable(rows)}\n\n${steps.join('\n\n')}\n\n${verdict}`;
}
