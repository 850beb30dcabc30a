// Shared plumbing for the daemon tools' command lines: s6's conventions
// (100 usage, 111 system failure) and one-line messages naming the tool.

export const EXIT_USAGE = 100;
export const EXIT_SYSTEM = 111;
export const EXIT_TIMEOUT = 99;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Prints "tether TOOL: fatal: MSG" and exits with `code`. */
export function die(tool: string, code: number, msg: string): never {
  process.stderr.write(`tether ${tool}: fatal: ${msg}\n`);
  process.exit(code);
}

export function warn(tool: string, msg: string): void {
  process.stderr.write(`tether ${tool}: warning: ${msg}\n`);
}

/** A non-negative decimal integer, or a usage error naming the option. */
export function parseUint(text: string | undefined, what: string): number {
  if (text === undefined || !/^[0-9]+$/.test(text)) throw new UsageError(`${what} needs a non-negative integer, got ${JSON.stringify(text ?? '')}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what} is too large: ${text}`);
  return n;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as 500ms, 5s, 1.5m, 1h or 1m30s (Go's notation,
 * which sipid uses) into milliseconds. Returns null for anything else.
 */
export function parseDuration(text: string): number | null {
  if (!/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return Number.isFinite(ms) && ms <= 2 ** 31 - 1 ? Math.round(ms) : null;
}

export interface OptionSpec {
  /** The long name (without --) maps to its short letter, if any, and whether it takes a value. */
  [long: string]: { short?: string; value: boolean };
}

export interface ParsedOptions {
  options: Map<string, string | true>;
  operands: string[];
}

/**
 * getopt-like parsing: `-t 500`, `-t500`, `--grace 20s`, `--grace=20s`, `--`.
 * With `stopAtOperand` (for wrappers that run PROG...), the first operand
 * ends the options, so PROG's own options are left alone.
 */
export function parseOptions(argv: readonly string[], spec: OptionSpec, stopAtOperand: boolean): ParsedOptions {
  const options = new Map<string, string | true>();
  const operands: string[] = [];
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([long, s]) => [s.short as string, long]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const long = arg.slice(2, eq < 0 ? undefined : eq);
      const s = spec[long];
      if (!s) throw new UsageError(`unknown option: --${long}`);
      if (!s.value) {
        if (eq >= 0) throw new UsageError(`option --${long} takes no value`);
        options.set(long, true);
      } else if (eq >= 0) {
        options.set(long, arg.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`option --${long} needs a value`);
        options.set(long, argv[++i]);
      }
    } else if (arg.length > 1 && arg.startsWith('-')) {
      for (let j = 1; j < arg.length; j++) {
        const long = byShort.get(arg[j]);
        if (long === undefined) throw new UsageError(`unknown option: -${arg[j]}`);
        if (!spec[long].value) {
          options.set(long, true);
          continue;
        }
        const inline = arg.slice(j + 1);
        if (inline !== '') options.set(long, inline);
        else if (i + 1 < argv.length) options.set(long, argv[++i]);
        else throw new UsageError(`option -${arg[j]} needs a value`);
        break;
      }
    } else if (stopAtOperand) {
      operands.push(...argv.slice(i));
      break;
    } else {
      operands.push(arg);
    }
  }
  return { options, operands };
}
