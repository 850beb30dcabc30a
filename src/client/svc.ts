// Controlling services: s6-svc's semantics, with its waits done in-process
// (subscribe, read status, send, consume events) instead of exec'ing
// s6-svlisten.
import { accessSync } from 'node:fs';
import { join } from 'node:path';
import { SUPERVISE_COMMANDS } from '../wire/control';
import { ControlChannel, MAX_COMMANDS, isControlFailure, type ControlFailure } from './control';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import { describe, errnoOf } from '../base/errno';
import type { WaitCondition } from './conditions';
import type { ServiceWatch, WaitOptions } from './listen';


/** The control commands by name, for callers who prefer words to s6's letters. */
export const COMMAND_LETTERS = {
  alarm: 'a', abort: 'b', quit: 'q', hup: 'h', kill: 'k', term: 't', interrupt: 'i',
  usr1: '1', usr2: '2', pause: 'p', cont: 'c', winch: 'y', restart: 'r', reload: 'l',
  'pause-group': 'P', 'cont-group': 'C', 'kill-group': 'K',
  once: 'o', down: 'd', up: 'u', 'down-permanently': 'D', 'up-permanently': 'U',
  exit: 'x', 'once-at-most': 'O', 'down-quietly': 'Q',
} as const;
export type SvcCommand = keyof typeof COMMAND_LETTERS;

/** Turns names or a string of s6 letters into the bytes to send. */
export function commandBytes(commands: string | readonly SvcCommand[]): string {
  const bytes = typeof commands === 'string'
    ? commands
    : commands.map((c) => {
      const letter = COMMAND_LETTERS[c];
      if (letter === undefined) throw usageError(`unknown command: ${c}`);
      return letter;
    }).join('');
  for (const b of bytes) if (!SUPERVISE_COMMANDS.includes(b)) throw usageError(`unknown command: ${b}`);
  if (bytes.length > MAX_COMMANDS) throw usageError('too many commands');
  return bytes;
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

/** s6-svc: wait for readiness only where readiness can be reported. */
export function readinessFallback(dir: string, wait: WaitCondition, warn: (m: string) => void): WaitCondition {
  if (wait !== 'ready' && wait !== 'restarted-ready') return wait;
  const fn = join(dir, 'notification-fd');
  try {
    accessSync(fn);
    return wait;
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw new Failure(`unable to access ${fn}: ${describe(err)}`, EXIT_SYSTEM, dir);
  }
  warn(`${fn} not present - ignoring request for readiness notification`);
  return wait === 'ready' ? 'up' : 'restarted';
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
  const wait = readinessFallback(dirs[0], opts.wait, opts.warn ?? (() => {}));
  let watch: ServiceWatch;
  try {
    const { ServiceWatch: Watch } = require('./listen') as typeof import('./listen');
    watch = new Watch(targets, opts.onSubscribed);
  } catch (err) {
    for (const ch of channels) ch.close();
    throw err;
  }
  for (const ch of channels) sendAndClose(ch, bytes, failures);
  const waitFailures = targets.length === 0 ? 0 : await watch.wait(wait, opts);
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
