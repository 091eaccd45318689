/**
 * Errors the engine raises on purpose. Each carries a one-line message meant for a person:
 * the CLI prints `error: <message>` and exits non-zero, the demo shows it in its status bar.
 */

/** Bad input from the user: a file, a flag, a state dict. */
export class InputError extends Error {
  override name = 'InputError';
}

/** A WebGPU validation or out-of-memory error, naming the labelled object involved. */
export class GpuError extends Error {
  override name = 'GpuError';
  constructor(
    message: string,
    readonly kind: 'validation' | 'out-of-memory' | 'internal',
  ) {
    super(message);
  }
}

/** The GPU device was lost (driver reset, tab backgrounded too long, `device.destroy()`). */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** Training produced a non-finite loss or weight. */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
  constructor(
    message: string,
    /** the first optimizer step (0-based, counted from the start of training) whose result was not finite */
    readonly step: number,
  ) {
    super(message);
  }
}

/** One line for a person, whatever was thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err).split('\n')[0] ?? 'unknown error';
}
