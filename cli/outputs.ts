/**
 * The CLI's outputs, checked before any work: `--save` must be a writable file path and
 * `--checkpoint` a writable directory, which this run then locks, so that a typo or a second run
 * writing the same directory fails in the first second rather than after the training.
 */
import { checkWritableFile, lockDirectory } from '../src/node.ts';
import type { ParsedFlags } from '../apps/shared/args.ts';

/** Checks every path the run will write; returns the release of the checkpoint directory's lock (also released at exit). */
export async function prepareOutputs(flags: ParsedFlags): Promise<() => void> {
  if (flags.save !== undefined) await checkWritableFile(flags.save as string, `--save ${flags.save as string}`);
  if (flags.checkpoint === undefined) return () => {};
  const dir = flags.checkpoint as string;
  const release = await lockDirectory(dir, `--checkpoint ${dir}`);
  process.once('exit', release);
  return release;
}
