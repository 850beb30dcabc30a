// s6-log's logging script: the words after the options, parsed into
// elements (selections, then the actions that get the selected lines) and
// the settings of each logdir. Defaults, clamps and the usage errors (exit
// 100) are s6-log's; everything is checked before any logdir is touched.
import { PosixRegex } from '../os/regex';

/** Exit 100: the script cannot be run. */
export class ScriptError extends Error {}

/** The TAI64N stamp (`t`) and the local ISO stamp (`T`), as bits. */
export const STAMP_TAI = 1;
export const STAMP_LOCAL = 2;

export interface Processor {
  command: string;
  /** `?` runs it with /bin/sh -c, `!` with execlineb -Pc. */
  shell: boolean;
}

export interface LogdirSettings {
  dir: string;
  /** Archives kept (`n`). */
  count: number;
  /** Rotate when current approaches this many bytes (`s`). */
  size: number;
  /** Rotate once current is within this many bytes of `size` (`l`). */
  tolerance: number;
  /** Total bytes of archives kept, 0 = no limit (`S`). */
  maxTotal: number;
  /** Rotate every this many seconds, 0 = never (`R`). */
  rotateSecs: number;
  /** Wait between retries after an error (`r`). */
  retryMs: number;
  processor: Processor | null;
}

export type Selection = { kind: 'fallthrough' } | { kind: 'select' | 'deselect'; re: PosixRegex };

interface ActionBase {
  /** STAMP_TAI | STAMP_LOCAL: for this action only. */
  stamps: number;
  /** The prefix and its space, or null. */
  prefix: Buffer | null;
}

export type Action =
  | (ActionBase & { kind: 'stdout' })
  | (ActionBase & { kind: 'alert'; size: number })
  | (ActionBase & { kind: 'status'; file: string; size: number })
  | (ActionBase & { kind: 'logdir'; index: number });

export interface ScriptElement {
  selections: Selection[];
  actions: Action[];
}

export interface Script {
  elements: ScriptElement[];
  logdirs: LogdirSettings[];
  /** The stamps any action uses: the clock is read per line only if non-zero. */
  stamps: number;
  /** Non-fatal remarks (directives after the last action). */
  warnings: string[];
}

const UINT32_MAX = 0xffff_ffff;
const SIZE_MIN = 4096;
const SIZE_MAX = 268_435_455;

/** s6's uint320_scan: decimal digits only, at least one, fitting in 32 bits. */
function uint(word: string, max = UINT32_MAX): number {
  const text = word.slice(1);
  if (!/^[0-9]+$/.test(text)) throw new ScriptError(`unrecognized directive: ${word}`);
  const v = Number(text);
  if (v > max) throw new ScriptError(`unrecognized directive: ${word}`);
  return v;
}

/** One character only: f, t, T, 1, 2. */
function single(word: string): void {
  if (word.length !== 1) throw new ScriptError(`syntax error at directive: ${word}`);
}

/** Parses a script; throws ScriptError (exit 100) as s6-log would. */
export function parseScript(words: readonly string[]): Script {
  const elements: ScriptElement[] = [];
  const logdirs: LogdirSettings[] = [];
  const warnings: string[] = [];
  let current: ScriptElement = { selections: [], actions: [] };
  let acted = false;
  let globalStamps = 0;
  // Sticky settings, as s6-log's defaults.
  let count = 10;
  let size = 99_999;
  let tolerance = 2000;
  let maxTotal = 0;
  let rotateSecs = 0;
  let retryMs = 2000;
  let alertSize = 200;
  let statusSize = 1001;
  let prefix: Buffer | null = null;
  let processor: Processor | null = null;
  // Not sticky: t and T apply to the next action only.
  let stamps = 0;

  const addAction = (a: Action): void => {
    current.actions.push(a);
    globalStamps |= a.stamps;
    acted = true;
    stamps = 0;
  };
  const addSelection = (s: Selection): void => {
    if (acted) {
      elements.push(current);
      current = { selections: [], actions: [] };
      acted = false;
    }
    current.selections.push(s);
  };
  const regex = (word: string): PosixRegex => {
    try {
      return new PosixRegex(word.slice(1));
    } catch {
      throw new ScriptError(`unrecognized directive: ${word}`);
    }
  };

  for (const word of words) {
    switch (word[0]) {
      case 'f':
        single(word);
        addSelection({ kind: 'fallthrough' });
        break;
      case '+':
        addSelection({ kind: 'select', re: regex(word) });
        break;
      case '-':
        addSelection({ kind: 'deselect', re: regex(word) });
        break;
      case 'n':
        count = uint(word);
        break;
      case 's':
        size = Math.min(SIZE_MAX, Math.max(SIZE_MIN, uint(word)));
        break;
      case 'S':
        maxTotal = uint(word, Number.MAX_SAFE_INTEGER);
        break;
      case 'l':
        tolerance = uint(word);
        if (tolerance > size >> 1) throw new ScriptError(`directive ${word} conflicts with previous s directive`);
        break;
      case 'r':
        retryMs = uint(word);
        break;
      case 'R':
        rotateSecs = uint(word);
        break;
      case 'E':
        alertSize = uint(word);
        break;
      case '^':
        statusSize = uint(word);
        break;
      case 'p':
        prefix = word.length > 1 ? Buffer.from(`${word.slice(1)} `) : null;
        break;
      case '!':
      case '?':
        processor = word.length > 1 ? { command: word.slice(1), shell: word[0] === '?' } : null;
        break;
      case 't':
        single(word);
        stamps |= STAMP_TAI;
        break;
      case 'T':
        single(word);
        stamps |= STAMP_LOCAL;
        break;
      case '1':
        single(word);
        addAction({ kind: 'stdout', stamps, prefix });
        break;
      case '2':
        single(word);
        addAction({ kind: 'alert', stamps, prefix, size: alertSize });
        break;
      case '=':
        if (word.length === 1) throw new ScriptError(`syntax error at directive: ${word}`);
        addAction({ kind: 'status', stamps, prefix, file: word.slice(1), size: statusSize });
        break;
      case '.':
      case '/':
        logdirs.push({ dir: word, count, size, tolerance, maxTotal, rotateSecs, retryMs, processor });
        addAction({ kind: 'logdir', stamps, prefix, index: logdirs.length - 1 });
        break;
      default:
        throw new ScriptError(`unrecognized directive: ${word}`);
    }
  }
  if (acted) elements.push(current);
  else if (elements.length > 0) warnings.push('ignoring extraneous non-action directives');
  else throw new ScriptError('no action directive specified');
  return { elements, logdirs, stamps: globalStamps, warnings };
}
