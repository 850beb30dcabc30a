// The one command-line parser: POSIX getopt as s6's tools use it (options
// cluster, `-t500` or `-t 500`, `--` ends the options) plus the long options
// tether adds (`--json`, `--grace 20s`, `--grace=20s`). Its errors are usage
// Failures (100); `--help` is one of its options, for every command.
import { usageError } from './exit';

export interface OptionSpec {
  /** Long name (without --, or the letter itself for a short-only option) -> its letter and whether it takes a value. */
  [name: string]: { short?: string; value: boolean };
}

/**
 * Where options may appear:
 * - `posix`: before the first operand, which ends them (wrappers running PROG...);
 * - `posix-long`: short ones as `posix`, long ones also after operands, up to `--`
 *   (s6's clients with tether's `--json`, `--help`);
 * - `anywhere`: options and operands mixed, up to `--`.
 */
export type OptionPlacement = 'posix' | 'posix-long' | 'anywhere';

export interface ParsedOptions {
  /** The last value of each option given, by its name in the spec, in order of first appearance. */
  options: Map<string, string | true>;
  /** Every option in command-line order, repeats included. */
  sequence: Array<{ opt: string; arg?: string }>;
  operands: string[];
  /** True if the options ended with an explicit `--`. */
  dashdash: boolean;
}

/**
 * Thrown by parseOptions once a command line that asks for help has parsed
 * without error: the CLI prints the command's help and exits 0, as it turns
 * a usage Failure into its synopsis and 100.
 */
export class HelpRequested extends Error {
  constructor() {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

/**
 * `spec` plus the help: `--help` always, `-h` unless the command gives -h a
 * meaning of its own (svc's SIGHUP, svscanctl's rescan).
 */
function withHelp(spec: OptionSpec): OptionSpec {
  const hTaken = Object.values(spec).some((s) => s.short === 'h');
  return { ...spec, help: hTaken ? { value: false } : { short: 'h', value: false } };
}

/** Throws a usage Failure for a wrong command line, HelpRequested for a right one that asks for help. */
export function parseOptions(argv: readonly string[], spec: OptionSpec, placement: OptionPlacement): ParsedOptions {
  const out = parseWords(argv, withHelp(spec), placement);
  if (out.options.has('help')) throw new HelpRequested();
  return out;
}

function parseWords(argv: readonly string[], spec: OptionSpec, placement: OptionPlacement): ParsedOptions {
  const out: ParsedOptions = { options: new Map(), sequence: [], operands: [], dashdash: false };
  const add = (opt: string, arg?: string) => {
    out.sequence.push(arg === undefined ? { opt } : { opt, arg });
    out.options.set(opt, arg ?? true);
  };
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([name, s]) => [s.short as string, name]));
  let shortsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') {
      if (!shortsEnded) {
        out.dashdash = true;
        out.operands.push(...argv.slice(i + 1));
        break;
      }
      // posix-long after an operand: the rest is operands, `--` included.
      out.operands.push(...argv.slice(i));
      break;
    }
    if (word.startsWith('--')) {
      i = longOption(argv, i, spec, add);
    } else if (word.length > 1 && word[0] === '-' && !shortsEnded) {
      i = shortCluster(argv, i, spec, byShort, add);
    } else {
      out.operands.push(word);
      if (placement !== 'anywhere') shortsEnded = true;
      if (placement === 'posix') {
        out.operands.push(...argv.slice(i + 1));
        break;
      }
    }
  }
  return out;
}

type Add = (opt: string, arg?: string) => void;

function longOption(argv: readonly string[], i: number, spec: OptionSpec, add: Add): number {
  const word = argv[i];
  const eq = word.indexOf('=');
  const name = word.slice(2, eq < 0 ? undefined : eq);
  const s = Object.hasOwn(spec, name) && name.length > 1 ? spec[name] : undefined;
  if (!s) throw usageError(`unknown option: --${name}`);
  if (!s.value) {
    if (eq >= 0) throw usageError(`option --${name} takes no value`);
    add(name);
  } else if (eq >= 0) {
    add(name, word.slice(eq + 1));
  } else {
    if (i + 1 >= argv.length) throw usageError(`option --${name} needs a value`);
    add(name, argv[++i]);
  }
  return i;
}

function shortCluster(argv: readonly string[], i: number, spec: OptionSpec, byShort: Map<string, string>, add: Add): number {
  const word = argv[i];
  for (let j = 1; j < word.length; j++) {
    const name = byShort.get(word[j]);
    if (name === undefined) throw usageError(`unknown option: -${word[j]}`);
    if (!spec[name].value) {
      add(name);
      continue;
    }
    if (j + 1 < word.length) add(name, word.slice(j + 1));
    else if (i + 1 < argv.length) add(name, argv[++i]);
    else throw usageError(`option -${word[j]} needs a value`);
    break;
  }
  return i;
}

/**
 * A spec from getopt's letter string (`"hno:"`: -h, -n, and -o with a value),
 * each option named by its letter, plus long ones.
 */
export function letters(shorts: string, long: OptionSpec = {}): OptionSpec {
  const spec: OptionSpec = {};
  for (let i = 0; i < shorts.length; i++) {
    const value = shorts[i + 1] === ':';
    spec[shorts[i]] = { short: shorts[i], value };
    if (value) i++;
  }
  return { ...spec, ...long };
}

/** s6's uint0_scan: decimal digits only, the whole word, a safe integer. */
export function parseUint(text: string | true | undefined, what: string): number {
  if (typeof text !== 'string' || !/^[0-9]+$/.test(text)) throw usageError(`invalid ${what}: ${JSON.stringify(typeof text === 'string' ? text : '')}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw usageError(`invalid ${what}: ${text} is too large`);
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
