/**
 * The optimizer and learning-rate schedule flags every app shares (the CLI, the bench): the flag
 * table, the optimizer and schedule they describe (validated by the engine's own builders, so an
 * out-of-range value is one InputError line), and what conflicts with a checkpoint's settings.
 */
import { adam, adamw, InputError, lrSchedule, sgd, type LrSchedule, type Optimizer } from '../../src/index.ts';
import type { FlagSpec, ParsedFlags } from './args.ts';

export const OPTIMIZER_FLAGS: Record<string, FlagSpec> = {
  optimizer: { type: 'string', placeholder: 'sgd|adam|adamw', help: 'torch.optim rule (default sgd)' },
  lr: { type: 'number', placeholder: 'LR', help: 'learning rate (default: sgd 0.01, adam/adamw 0.001)' },
  momentum: { type: 'number', placeholder: 'M', help: 'SGD momentum (default 0.5)' },
  dampening: { type: 'number', placeholder: 'D', help: 'SGD dampening (default 0)' },
  nesterov: { type: 'bool', help: 'SGD with Nesterov momentum (needs momentum > 0, dampening 0)' },
  beta1: { type: 'number', placeholder: 'B1', help: 'Adam/AdamW beta1 (default 0.9)' },
  beta2: { type: 'number', placeholder: 'B2', help: 'Adam/AdamW beta2 (default 0.999)' },
  eps: { type: 'number', placeholder: 'EPS', help: 'Adam/AdamW eps (default 1e-8)' },
  'weight-decay': { type: 'number', placeholder: 'WD', help: 'weight decay: L2 for sgd/adam, decoupled for adamw (default 0; adamw 0.01)' },
  'lr-schedule': {
    type: 'string',
    placeholder: 'constant|step|cosine',
    help: 'lr per epoch: StepLR, CosineAnnealingLR (default constant)',
  },
  'lr-step-size': { type: 'int', placeholder: 'EPOCHS', help: 'step schedule: epochs between decays (default 1)' },
  'lr-gamma': { type: 'number', placeholder: 'G', help: 'step schedule: decay factor (default 0.1)' },
  'lr-t-max': { type: 'int', placeholder: 'EPOCHS', help: 'cosine schedule: T_max (default: --epochs)' },
  'lr-eta-min': { type: 'number', placeholder: 'LR', help: 'cosine schedule: eta_min (default 0)' },
  'warmup-steps': { type: 'int', placeholder: 'W', help: 'linear lr warm-up over the first W steps (default none)' },
};

/** The seed program's optimizer: torch.optim.SGD(lr=0.01, momentum=0.5). */
export const SEED_SGD = { lr: 0.01, momentum: 0.5 } as const;

const SGD_ONLY = ['momentum', 'dampening', 'nesterov'];
const ADAM_ONLY = ['beta1', 'beta2', 'eps'];
const SCHEDULE_FLAGS: Record<string, LrSchedule['kind']> = {
  'lr-step-size': 'step',
  'lr-gamma': 'step',
  'lr-t-max': 'cosine',
  'lr-eta-min': 'cosine',
};

function num(flags: ParsedFlags, name: string): number | undefined {
  return flags[name] as number | undefined;
}

/** The optimizer the flags describe (the seed's SGD when none are given). */
export function optimizerFromFlags(flags: ParsedFlags): Optimizer {
  const kind = (flags.optimizer as string | undefined) ?? 'sgd';
  if (kind !== 'sgd' && kind !== 'adam' && kind !== 'adamw') throw new InputError(`--optimizer must be sgd, adam or adamw, got '${kind}'`);
  for (const name of kind === 'sgd' ? ADAM_ONLY : SGD_ONLY) {
    if (flags[name] !== undefined) throw new InputError(`--${name} does not apply to --optimizer ${kind}`);
  }
  const lr = num(flags, 'lr');
  const weightDecay = num(flags, 'weight-decay');
  if (kind === 'sgd') {
    return sgd({
      lr: lr ?? SEED_SGD.lr,
      momentum: num(flags, 'momentum') ?? SEED_SGD.momentum,
      dampening: num(flags, 'dampening') ?? 0,
      nesterov: flags.nesterov === true,
      ...(weightDecay !== undefined ? { weightDecay } : {}),
    });
  }
  const build = kind === 'adam' ? adam : adamw;
  const betas = [num(flags, 'beta1') ?? 0.9, num(flags, 'beta2') ?? 0.999] as const;
  return build({
    ...(lr !== undefined ? { lr } : {}),
    betas,
    ...(num(flags, 'eps') !== undefined ? { eps: num(flags, 'eps')! } : {}),
    ...(weightDecay !== undefined ? { weightDecay } : {}),
  });
}

/** The schedule the flags describe; cosine's T_max defaults to the run's epoch count. */
export function scheduleFromFlags(flags: ParsedFlags, epochs: number): LrSchedule {
  const kind = (flags['lr-schedule'] as string | undefined) ?? 'constant';
  if (kind !== 'constant' && kind !== 'step' && kind !== 'cosine') {
    throw new InputError(`--lr-schedule must be constant, step or cosine, got '${kind}'`);
  }
  for (const [name, needs] of Object.entries(SCHEDULE_FLAGS)) {
    if (flags[name] !== undefined && needs !== kind) throw new InputError(`--${name} needs --lr-schedule ${needs}`);
  }
  const warmupSteps = num(flags, 'warmup-steps') ?? 0;
  if (kind === 'step') {
    return lrSchedule({ kind, stepSize: num(flags, 'lr-step-size') ?? 1, gamma: num(flags, 'lr-gamma') ?? 0.1, warmupSteps });
  }
  if (kind === 'cosine') {
    return lrSchedule({ kind, tMax: num(flags, 'lr-t-max') ?? Math.max(epochs, 1), etaMin: num(flags, 'lr-eta-min') ?? 0, warmupSteps });
  }
  return lrSchedule({ kind, warmupSteps });
}

/** Whether any optimizer or schedule flag was given. */
export function givesOptimizerFlags(flags: ParsedFlags): boolean {
  return Object.keys(OPTIMIZER_FLAGS).some((name) => flags[name] !== undefined);
}

/**
 * With --resume: the first optimizer or schedule flag whose value differs from the checkpoint's
 * settings, as a message (undefined when all agree). A flag equal to the saved value is fine.
 */
export function resumeConflict(flags: ParsedFlags, saved: { optimizer: Optimizer; schedule: LrSchedule }): string | undefined {
  const o = saved.optimizer;
  const s = saved.schedule;
  const savedValue: Record<string, unknown> = {
    optimizer: o.kind,
    lr: o.lr,
    'weight-decay': o.weightDecay,
    ...(o.kind === 'sgd'
      ? { momentum: o.momentum, dampening: o.dampening, nesterov: o.nesterov }
      : { beta1: o.betas[0], beta2: o.betas[1], eps: o.eps }),
    'lr-schedule': s.kind,
    'warmup-steps': s.warmupSteps,
    ...(s.kind === 'step' ? { 'lr-step-size': s.stepSize, 'lr-gamma': s.gamma } : {}),
    ...(s.kind === 'cosine' ? { 'lr-t-max': s.tMax, 'lr-eta-min': s.etaMin } : {}),
  };
  for (const name of Object.keys(OPTIMIZER_FLAGS)) {
    const mine = flags[name];
    if (mine === undefined) continue;
    const theirs = savedValue[name];
    if (theirs === undefined || JSON.stringify(mine) !== JSON.stringify(theirs)) {
      return (
        `--resume: the checkpoint was trained with ${o.kind === 'sgd' ? 'sgd' : o.kind} and a ${s.kind} schedule` +
        (theirs === undefined ? `, where --${name} does not apply` : ` with --${name} ${JSON.stringify(theirs)}`) +
        '; drop the conflicting flag'
      );
    }
  }
  return undefined;
}
