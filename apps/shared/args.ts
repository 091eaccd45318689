import { InputError } from '../../src/index.ts';

export interface FlagSpec {
  readonly type: 'int' | 'number' | 'string' | 'bool' | 'list';
  readonly help: string;
  readonly placeholder?: string;
  /** left out of --help: test and debugging flags */
  readonly hidden?: boolean;
}

export type ParsedFlags = Record<string, number | string | boolean | number[] | undefined>;

/**
 * Strict `--name value` / `--name=value` parsing: unknown flags, missing values and malformed
 * numbers are InputErrors (one line), never ignored.
 */
export function parseFlags(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): ParsedFlags {
  const out: ParsedFlags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new InputError(`unexpected argument '${arg}' (flags start with --; see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw new InputError(`unknown flag --${name} (see --help)`);
    if (spec.type === 'bool') {
      if (eq >= 0) throw new InputError(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new InputError(`--${name} needs a value`);
    out[name] = convert(name, spec, value);
  }
  return out;
}

function convert(name: string, spec: FlagSpec, value: string): number | string | number[] {
  const number = (text: string) => {
    const n = text.trim() === '' ? NaN : Number(text);
    if (Number.isNaN(n)) throw new InputError(`--${name} must be a number, got '${value}'`);
    return n;
  };
  switch (spec.type) {
    case 'int': {
      const n = number(value);
      if (!Number.isSafeInteger(n)) throw new InputError(`--${name} must be an integer, got '${value}'`);
      return n;
    }
    case 'number':
      return number(value);
    case 'list':
      return value.split(',').map((part) => {
        const n = number(part);
        if (!Number.isSafeInteger(n)) throw new InputError(`--${name} must be a comma-separated list of integers, got '${value}'`);
        return n;
      });
    default:
      return value;
  }
}

export function usage(command: string, specs: Readonly<Record<string, FlagSpec>>): string {
  const lines = Object.entries(specs)
    .filter(([, s]) => !s.hidden)
    .map(([name, s]) => {
      const left = s.type === 'bool' ? `--${name}` : `--${name} ${s.placeholder ?? s.type.toUpperCase()}`;
      return `  ${left.padEnd(30)} ${s.help}`;
    });
  return `usage: ${command} [flags]\n${lines.join('\n')}`;
}
