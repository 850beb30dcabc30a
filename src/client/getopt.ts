// POSIX getopt, as s6's tools parse their arguments: options cluster (-dx),
// an option's argument is attached or the next word, parsing stops at the
// first operand, and `--` ends the options.
import { UsageError } from './errors';

export interface ParsedArgs {
  /** Each option in command-line order, with its argument if it takes one. */
  options: Array<{ opt: string; arg?: string }>;
  /** What follows the options. */
  operands: string[];
  /** True if the options ended with an explicit `--`. */
  dashdash: boolean;
}

/** `spec` lists option letters; a letter followed by `:` takes an argument. */
export function getopt(argv: readonly string[], spec: string): ParsedArgs {
  const options: ParsedArgs['options'] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') return { options, operands: argv.slice(i + 1), dashdash: true };
    if (word.length < 2 || word[0] !== '-') break;
    for (let j = 1; j < word.length; j++) {
      const opt = word[j];
      const at = spec.indexOf(opt);
      if (opt === ':' || at < 0) throw new UsageError(`unknown option: -${opt}`);
      if (spec[at + 1] !== ':') {
        options.push({ opt });
        continue;
      }
      if (j + 1 < word.length) options.push({ opt, arg: word.slice(j + 1) });
      else if (i + 1 < argv.length) options.push({ opt, arg: argv[++i] });
      else throw new UsageError(`option -${opt} needs an argument`);
      break;
    }
  }
  return { options, operands: argv.slice(i), dashdash: false };
}

/**
 * Takes the long options (`--help`, `--json`) out of the words before the
 * first `--`, leaving the rest for getopt.
 */
export function takeLongOptions(argv: readonly string[], known: readonly string[]): { long: Set<string>; rest: string[] } {
  const long = new Set<string>();
  const rest: string[] = [];
  let ended = false;
  for (const word of argv) {
    if (!ended && word === '--') ended = true;
    if (!ended && word.startsWith('--')) {
      const name = word.slice(2);
      if (!known.includes(name)) throw new UsageError(`unknown option: ${word}`);
      long.add(name);
    } else {
      rest.push(word);
    }
  }
  return { long, rest };
}

/** s6's uint0_scan: decimal digits only, the whole word. */
export function parseUint(text: string, what: string): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`invalid ${what}: ${text}`);
  return Number(text);
}
