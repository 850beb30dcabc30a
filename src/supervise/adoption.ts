// Adopting a self-backgrounding daemon through the `pidfile` file. run's
// process (the parent) forks the daemon, writes its pid to the pid file and
// exits 0. We are a child subreaper, so the daemon is now our child; we take
// the pid from the file only if it names our own child. An unreaped child's
// pid cannot be reused, which closes the race s6 calls unavoidable. The pid
// file rules are the ones tether background-watch uses (src/daemon/pidfile).
import { unlinkSync } from 'node:fs';
import { acceptDaemonPid, describePidFileError } from '../os/pidfile';
import { EXIT_BAD_PIDFILE } from '../base/exit';
import { errnoOf, errnoText } from '../base/errno';

export { EXIT_BAD_PIDFILE };

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
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

/**
 * After the parent exited 0: waits (fs watch, at most `timeoutMs`) for a
 * complete pid in `path` and judges it. `reaped` holds the wait statuses of
 * orphans reaped since the start: a daemon that died before we read its pid
 * is found there rather than mistaken for a stranger. `signal` abandons the
 * wait (the supervisor is exiting).
 */
export async function adoptFromPidFile(
  path: string,
  timeoutMs: number,
  reaped: ReadonlyMap<number, number>,
  signal?: AbortSignal,
): Promise<AdoptionResult> {
  let read;
  try {
    read = await acceptDaemonPid(path, timeoutMs, { signal, reapedStatus: (pid) => reaped.get(pid) });
  } catch (err) {
    return { kind: 'refused', reason: `unable to read pid file ${path}: ${errnoText(err)}` };
  }
  if ('error' in read) return { kind: 'refused', reason: describePidFileError(path, read, timeoutMs) };
  return read.wstat === undefined ? { kind: 'adopted', pid: read.pid } : { kind: 'died', pid: read.pid, wstat: read.wstat };
}
