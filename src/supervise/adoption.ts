// Adopting a self-backgrounding daemon through the `pidfile` file. run's
// process (the parent) forks the daemon, writes its pid to the pid file and
// exits 0. We are a child subreaper, so the daemon is now our child; we take
// the pid from the file only if it names our own child. An unreaped child's
// pid cannot be reused, which closes the race s6 calls unavoidable.
import { unlinkSync } from 'node:fs';
import { isOwnChild, readPidFile, waitForPidFile, type PidFileRead } from '../daemon/pidfile';

/** The exit code of a service whose pid file was unusable, as s6-background-watch uses. */
export const EXIT_BAD_PIDFILE = 104;

export type AdoptionResult =
  /** The daemon is our child: it is the service now. */
  | { kind: 'adopted'; pid: number }
  /** The daemon was already dead (and reaped) when we read its pid. */
  | { kind: 'died'; pid: number; wstat: number }
  /** The pid file was missing, garbage or named a stranger: the one-line reason. */
  | { kind: 'refused'; reason: string };

/** Removes a pid file left by a previous instance, so a stale pid is never adopted. */
export function removeStalePidFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function describe(path: string, read: PidFileRead): string {
  if ('pid' in read) return `pid file ${path} names pid ${read.pid}, which is not a child of this supervisor`;
  if (read.error === 'missing') return `pid file ${path} did not appear`;
  return `pid file ${path} holds ${JSON.stringify(read.content.length > 40 ? `${read.content.slice(0, 40)}...` : read.content)}, not a pid and a newline`;
}

/**
 * After the parent exited 0: waits (fs watch, at most `timeoutMs`) for a
 * complete pid in `path` and judges it. `reaped` holds the wait statuses of
 * orphans reaped since the start: a daemon that died before we read its pid
 * is found there rather than mistaken for a stranger.
 */
export async function adoptFromPidFile(path: string, timeoutMs: number, reaped: ReadonlyMap<number, number>): Promise<AdoptionResult> {
  let read: PidFileRead;
  try {
    read = readPidFile(path);
    if (!('pid' in read)) read = await waitForPidFile(path, timeoutMs);
  } catch (err) {
    return { kind: 'refused', reason: `unable to read pid file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}` };
  }
  if (!('pid' in read)) return { kind: 'refused', reason: describe(path, read) };
  const wstat = reaped.get(read.pid);
  if (wstat !== undefined) return { kind: 'died', pid: read.pid, wstat };
  if (isOwnChild(read.pid)) return { kind: 'adopted', pid: read.pid };
  return { kind: 'refused', reason: describe(path, read) };
}
