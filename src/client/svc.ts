// Controlling services: s6-svc's semantics, with its waits done in-process
// (subscribe, read status, send, consume events) instead of exec'ing
// s6-svlisten.
import { accessSync } from 'node:fs';
import { join } from 'node:path';
import { SUPERVISE_COMMANDS } from '../wire/control';
import { ControlChannel, MAX_COMMANDS, isControlFailure, type ControlFailure } from './control';
import { EXIT_SYSTEM, EXIT_TIMEOUT, Failure, usageError } from '../base/exit';
import { describe, errnoOf } from '../base/errno';
import type { WaitCondition } from './conditions';
import type { ServiceWatch, WaitOptions } from './listen';


/**
 * The control commands by name, for callers who prefer words to s6's
 * letters. A word is never read as letters: `'up'` is `u`, not `u` + `p`.
 */
export const COMMAND_LETTERS = {
  alarm: 'a', abort: 'b', quit: 'q', hup: 'h', kill: 'k', term: 't', int: 'i', interrupt: 'i',
  usr1: '1', usr2: '2', pause: 'p', cont: 'c', winch: 'y', restart: 'r', reload: 'l',
  'pause-group': 'P', 'cont-group': 'C', 'kill-group': 'K',
  once: 'o', down: 'd', up: 'u', 'down-permanently': 'D', 'up-permanently': 'U',
  exit: 'x', 'once-at-most': 'O', 'down-quietly': 'Q',
} as const;
export type SvcCommand = keyof typeof COMMAND_LETTERS;

/** What svc() accepts: one word, a list of words, or s6's letters said explicitly. */
export type SvcCommands = SvcCommand | readonly SvcCommand[] | { readonly letters: string };

/**
 * Turns words, or `{ letters }`, into the bytes to send. Anything else is a
 * TypeError: a plain string is a word, so a typo cannot turn into signals.
 */
export function commandBytes(commands: SvcCommands): string {
  const bytes = wordsOrLetters(commands);
  for (const b of bytes) if (!SUPERVISE_COMMANDS.includes(b)) throw new TypeError(`unknown s6-svc letter: ${JSON.stringify(b)}`);
  if (bytes.length > MAX_COMMANDS) throw usageError('too many commands');
  return bytes;
}

function wordsOrLetters(commands: unknown): string {
  if (typeof commands === 'string') return letterOf(commands);
  if (Array.isArray(commands)) return commands.map(letterOf).join('');
  if (commands !== null && typeof commands === 'object' && typeof (commands as { letters?: unknown }).letters === 'string') {
    return (commands as { letters: string }).letters;
  }
  throw new TypeError('svc commands must be a word (\'up\'), a list of words, or { letters: \'...\' }');
}

function letterOf(word: unknown): string {
  if (typeof word === 'string' && Object.prototype.hasOwnProperty.call(COMMAND_LETTERS, word)) {
    return COMMAND_LETTERS[word as SvcCommand];
  }
  throw new TypeError(`unknown svc command: ${JSON.stringify(word)} (words: ${Object.keys(COMMAND_LETTERS).join(', ')}; s6 letters go in { letters })`);
}

export interface ControlOptions extends WaitOptions {
  wait?: WaitCondition;
  /** Warnings (a readiness wait downgraded); stderr in the CLI. */
  warn?: (message: string) => void;
  /** Called between subscribing and reading the status (tests). */
  onSubscribed?: () => void;
}

export interface ControlOutcome {
  /** Directories that could not be controlled, in order; the last one sets the exit code. */
  failures: ControlFailure[];
  /** Supervisors that exited, or permanent failures, seen during the wait. */
  waitFailures: number;
  /** The exit code s6-svc would give. */
  exitCode: number;
}

/** True for the waits that need the service to report readiness. */
export function wantsReadiness(wait: WaitCondition): boolean {
  return wait === 'ready' || wait === 'restarted-ready';
}

/**
 * The files through which a service can report readiness: s6's
 * notification-fd, and tether's extensions (a NOTIFY_SOCKET, a check).
 */
const READINESS_FILES = ['notification-fd', 'notify-socket', 'check'];

/** True if `dir` has a file through which its service can report readiness. */
export function canReportReadiness(dir: string): boolean {
  return READINESS_FILES.some((name) => {
    const fn = join(dir, name);
    try {
      accessSync(fn);
      return true;
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw new Failure(`unable to access ${fn}: ${describe(err)}`, EXIT_SYSTEM, dir);
      return false;
    }
  });
}

/**
 * s6-svc: wait for readiness only where readiness can be reported. Every
 * directory is checked, each on its own: the ones without notification-fd
 * are waited for up, with a warning each; the others for ready.
 */
export function readinessFallbacks(dirs: readonly string[], wait: WaitCondition, warn: (m: string) => void): string[] {
  if (!wantsReadiness(wait)) return [];
  const fallbacks = dirs.filter((dir) => !canReportReadiness(dir));
  for (const dir of fallbacks) warn(`${join(dir, 'notification-fd')} not present - ignoring request for readiness notification`);
  return fallbacks;
}

/**
 * Sends `bytes` to every directory and, with `wait`, waits for the
 * condition on those that could be controlled. Failing directories are
 * reported, never thrown; a timeout rejects with a Failure of code 99.
 */
export async function controlServices(dirs: readonly string[], bytes: string, opts: ControlOptions = {}): Promise<ControlOutcome> {
  const failures: ControlFailure[] = [];
  const channels: ControlChannel[] = [];
  if (opts.wait === undefined) {
    for (const dir of dirs) {
      const ch = ControlChannel.open(dir);
      if (isControlFailure(ch)) failures.push(ch);
      else sendAndClose(ch, bytes, failures);
    }
    return { failures, waitFailures: 0, exitCode: exitCodeOf(failures, 0) };
  }
  // A wait with no command is s6-svwait: it needs no listening supervisor.
  const targets = bytes === '' ? [...dirs] : [];
  for (const dir of bytes === '' ? [] : dirs) {
    const ch = ControlChannel.open(dir);
    if (isControlFailure(ch)) failures.push(ch);
    else {
      channels.push(ch);
      targets.push(dir);
    }
  }
  let watch: ServiceWatch;
  try {
    const fallbacks = readinessFallbacks(targets, opts.wait, opts.warn ?? (() => {}));
    const { ServiceWatch: Watch } = require('./listen') as typeof import('./listen');
    watch = new Watch(targets, opts.onSubscribed, fallbacks);
  } catch (err) {
    for (const ch of channels) ch.close();
    throw err;
  }
  for (const ch of channels) sendAndClose(ch, bytes, failures);
  const waitFailures = targets.length === 0 ? 0 : await watch.wait(opts.wait, opts);
  watch.close();
  return { failures, waitFailures, exitCode: exitCodeOf(failures, waitFailures) };
}

function sendAndClose(ch: ControlChannel, bytes: string, failures: ControlFailure[]): void {
  try {
    ch.send(bytes);
  } catch (err) {
    failures.push({ dir: ch.dir, exitCode: EXIT_SYSTEM, message: `unable to control ${ch.dir}: ${describe(err)}` });
  } finally {
    ch.close();
  }
}

function exitCodeOf(failures: readonly ControlFailure[], waitFailures: number): number {
  if (failures.length > 0) return failures[failures.length - 1].exitCode;
  return Math.min(waitFailures, 98);
}

/**
 * s6-svwait -U on a service that has no notification-fd waits until its
 * deadline (or for ever): the service can never be ready. tether refuses at
 * once, with the code s6-svwait ends with (99), so a script sees the same
 * code without the wait. With `any`, one directory able to report is enough.
 */
export function refuseUnreportableReadiness(dirs: readonly string[], wait: WaitCondition, any: boolean): void {
  if (!wantsReadiness(wait)) return;
  const unable = dirs.filter((dir) => !canReportReadiness(dir));
  if (unable.length === 0 || (any && unable.length < dirs.length)) return;
  const dir = unable[0];
  throw new Failure(`${dir} cannot report readiness (${join(dir, 'notification-fd')} not present): it would never be ready`, EXIT_TIMEOUT, dir);
}
