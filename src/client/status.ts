// A service's state as s6-svstat reports it, computed from supervise/status
// and the ./down file: the typed ServiceStatus of the API, the legacy
// one-line form, and the -o fields.
import { accessSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeStatus, isUp, notStartedYet, statusPath, type StatusRecord } from '../wire/status';
import { formatTain, secondsBetween, tainNow, type Tain } from '../wire/tain';
import { signalName, wstatExitCode, wstatSignaled, wstatTermsig } from '../wire/signals';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { describe, errnoOf } from '../base/errno';
import { isSupervised, notSupervised } from './supervised';
import { procStat } from '../os/proc';

/** Everything `svstat -o` can print, typed; `null` where s6 prints -1 or NA. */
export interface ServiceStatus {
  /** run is alive (a pid, and not finish's). */
  up: boolean;
  /** The supervisor wants the service up. */
  wantedup: boolean;
  /** No ./down file. */
  normallyup: boolean;
  /** Up (or finishing) and the service reported readiness. */
  ready: boolean;
  /** Stopped by `svc -p`. */
  paused: boolean;
  /** run's pid while up. */
  pid: number | null;
  /**
   * The process group of the service while up, from /proc: run's own pid
   * for a run script (a session leader), the daemon's real group for an
   * adopted (pidfile) daemon. The pid if /proc cannot tell.
   */
  pgid: number | null;
  /** The exit code of the last run, when down after a normal exit. */
  exitcode: number | null;
  /** The signal that killed the last run (`SIGTERM`), when down after one. */
  signal: string | null;
  signum: number | null;
  /** When run last started or died, as `@` + TAI64N hex. */
  updownsince: string;
  /** When the service last became ready, or down and ready. */
  readysince: string;
  /** Seconds since updownsince. */
  updownfor: number;
  /** Seconds since readysince. */
  readyfor: number;
  /** finish is running. */
  finishing: boolean;
  /** The supervisor has not spawned run yet (newest s6's marker). */
  notStartedYet: boolean;
}

/** Reads the raw record; a missing or short file is a system error (111). */
export function readStatusRecord(dir: string): StatusRecord {
  try {
    return decodeStatus(readFileSync(statusPath(dir)));
  } catch (err) {
    throw new Failure(`unable to read status for ${dir}: ${describe(err)}`, EXIT_SYSTEM, dir);
  }
}

export function isNormallyUp(dir: string): boolean {
  try {
    accessSync(join(dir, 'down'));
    return false;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return true;
    throw new Failure(`unable to access ${join(dir, 'down')}: ${describe(err)}`, EXIT_SYSTEM, dir);
  }
}

/** A live process's group, as `ps -o pgid` shows it. */
function processGroupOf(pid: number): number {
  const st = procStat(pid);
  return st && st.pgid > 0 ? st.pgid : pid;
}

/** The status as s6-svstat computes it, a stamp in the future being now. */
export function toServiceStatus(rec: StatusRecord, normallyup: boolean, now: Tain = tainNow()): ServiceStatus {
  const stamp = rec.stamp.secs > now.secs || (rec.stamp.secs === now.secs && rec.stamp.nano > now.nano) ? now : rec.stamp;
  const up = isUp(rec);
  const signaled = !up && wstatSignaled(rec.wstat);
  const exited = !up && (rec.wstat & 0x7f) === 0;
  return {
    up,
    wantedup: rec.wantup,
    normallyup,
    ready: rec.pid !== 0 && rec.ready,
    paused: rec.paused && rec.pid !== 0,
    pid: up ? rec.pid : null,
    pgid: up ? processGroupOf(rec.pid) : null,
    exitcode: exited ? wstatExitCode(rec.wstat) : null,
    signal: signaled ? signalName(wstatTermsig(rec.wstat)) : null,
    signum: signaled ? wstatTermsig(rec.wstat) : null,
    updownsince: formatTain(stamp),
    readysince: formatTain(rec.readystamp),
    updownfor: secondsBetween(stamp, now),
    readyfor: secondsBetween(rec.readystamp, now),
    finishing: rec.finishing,
    notStartedYet: notStartedYet(rec),
  };
}

/**
 * The status of the service in `dir`. Throws a Failure with exit code 1
 * if no supervisor runs there, 111 if the status cannot be read (a
 * supervisor that is still starting has not written it yet).
 */
export function svstat(dir: string): ServiceStatus {
  let supervised: boolean;
  try {
    supervised = isSupervised(dir);
  } catch (err) {
    throw new Failure(`unable to check ${dir}: ${describe(err)}`, EXIT_SYSTEM, dir);
  }
  if (!supervised) throw new Failure(notSupervised(dir), 1, dir);
  const rec = readStatusRecord(dir);
  return toServiceStatus(rec, isNormallyUp(dir));
}

/** The newest s6-svstat's one-line form; `numeric` is -n. */
export function formatLegacy(rec: StatusRecord, st: ServiceStatus, numeric = false): string {
  let line: string;
  if (st.up) {
    line = `up (pid ${rec.pid} pgid ${st.pgid ?? rec.pid})`;
  } else if (st.notStartedYet) {
    line = 'down (not started yet)';
  } else if (wstatSignaled(rec.wstat)) {
    const sig = wstatTermsig(rec.wstat);
    line = `down (signal ${numeric ? sig : signalName(sig)})`;
  } else {
    line = `down (exitcode ${wstatExitCode(rec.wstat)})`;
  }
  if (!st.notStartedYet) line += ` ${st.updownfor} seconds`;
  if (st.up && !st.normallyup) line += ', normally down';
  if (!st.up && st.normallyup) line += ', normally up';
  if (st.up && rec.paused) line += ', paused';
  if (!st.up && rec.wantup) line += ', want up';
  if (st.up && !rec.wantup) line += ', want down';
  if (rec.ready && !st.notStartedYet) line += `, ready ${st.readyfor} seconds`;
  return line;
}

/** The fields of `svstat -o`, in s6's spelling. */
export const STATUS_FIELDS = [
  'up', 'wantedup', 'normallyup', 'ready', 'paused', 'pid', 'pgid', 'exitcode',
  'signal', 'signum', 'updownsince', 'readysince', 'updownfor', 'readyfor',
] as const;
export type StatusField = (typeof STATUS_FIELDS)[number];

export function isStatusField(name: string): name is StatusField {
  return (STATUS_FIELDS as readonly string[]).includes(name);
}

/** One `-o` value as s6 prints it: true/false, -1, NA, @tai64n. */
export function formatField(st: ServiceStatus, field: StatusField): string {
  const v = st[field];
  if (v === null) return field === 'signal' ? 'NA' : '-1';
  return String(v);
}
