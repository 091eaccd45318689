/** The unfused optimizer pass over all parameters (shaders/optimizer.wgsl); its rule is shaders/lib/optimizer_update.wgsl's. */
import optimizerUpdate from '../../shaders/lib/optimizer_update.wgsl';
import familySource from '../../shaders/optimizer.wgsl';
import { Hyper, recordsWgsl, StepParams, stepStatFlagWgsl, type HyperValues } from './records.ts';
import { ceilDiv, composeWgsl, defineFamily, linearGrid, wgslOverrideDefault, type Grid, type Overrides } from './spec.ts';

export const optimizer = defineFamily({
  name: 'optimizer',
  source: composeWgsl(familySource, optimizerUpdate, recordsWgsl(Hyper, StepParams), stepStatFlagWgsl),
  entries: {
    update_all: {
      bindings: {
        params: { binding: 0, access: 'read_write' },
        grads: { binding: 1, access: 'read' },
        opt_state: { binding: 2, access: 'read_write' },
        hyper: { binding: 3, access: 'uniform' },
        step: { binding: 4, access: 'uniform_dynamic' },
        step_flags: { binding: 5, access: 'read_write' },
      },
    },
  },
});

/** The update rules of lib/optimizer_update.wgsl, by its OPTIMIZER override. */
export const OPTIMIZER_RULE = { sgd: 0, adam: 1, adamw: 2 } as const;
export type OptimizerRule = keyof typeof OPTIMIZER_RULE;

/** Optimizer-state tensors (each flat like the parameters) a rule keeps: SGD's momentum; Adam's exp_avg, exp_avg_sq. */
export function stateTensors(rule: OptimizerRule): number {
  return rule === 'sgd' ? 1 : 2;
}

/** The overrides of every pipeline whose module includes the update rule. */
export function ruleOverrides(rule: OptimizerRule): Overrides {
  return { OPTIMIZER: OPTIMIZER_RULE[rule] };
}

const WORKGROUP = wgslOverrideDefault(familySource, 'WG');

/** The Hyper uniform's bytes (records.ts), for every kernel that updates parameters. */
export function hyperData(h: HyperValues): Uint8Array<ArrayBuffer> {
  return Hyper.bytes(h);
}

export function optimizerOverrides(count: number, rule: OptimizerRule = 'sgd'): Overrides {
  return { COUNT: count, ...ruleOverrides(rule) };
}

export function optimizerGrid(count: number): Grid {
  return linearGrid(ceilDiv(count, WORKGROUP));
}
