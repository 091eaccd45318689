import { TUNINGS, type Tuning } from './engine.ts';
/** The engine's matmul variants, by name, for the benches' --matmul / --variant flags. */

export function variantOf(t: Tuning): string {
  return t.matmul.variant;
}

export function engineTunings(): Tuning[] {
  return Object.values(TUNINGS);
}

export function tuningForVariant(variant: string): Tuning | undefined {
  return Object.hasOwn(TUNINGS, variant) ? TUNINGS[variant as keyof typeof TUNINGS] : undefined;
}

export function describeTuning(t: Tuning): string {
  return `${variantOf(t)}, workgroup ${t.matmul.wgX}×${t.matmul.wgY}${t.matmul.split > 1 ? `×${t.matmul.split}` : ''}`;
}
