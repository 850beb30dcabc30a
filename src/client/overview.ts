// The overview of `tether status`: one row per service, from on-disk state
// only, so it works the same on a tree run by s6.
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { decodeDeathTally, deathTallyPath, type DeathRecord } from '../wire/deathtally';
import { tainToMs } from '../wire/tain';
import { readRestarts } from '../wire/restarts';
import { signalName } from '../wire/signals';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { describe, errnoOf } from '../base/errno';
import { isNormallyUp, readStatusRecord, toServiceStatus, type ServiceStatus } from './status';
import { isSupervised, LockTable, notSupervised } from './supervised';
import { canReportReadiness } from './svc';
import { readNotifyView, type NotifyView } from './notifyview';

/**
 * What a user needs to know about a service, in words:
 * - `up`: running, and it cannot report readiness (no notification-fd);
 * - `starting`: running, readiness expected but not reported yet, or wanted
 *   up and about to start again; `ready`: running and ready;
 * - `stopping`: running but wanted down (the down-signal was sent);
 * - `crash-looping`: wanted up, and it died several times within a minute;
 * - `failed to start`: wanted up, down, and its run cannot start (`reason`);
 * - `down`, `paused`, `finishing` (its finish script runs), `not supervised`,
 *   `unreadable`.
 */
export type ServiceState =
  | 'up' | 'starting' | 'ready' | 'stopping' | 'crash-looping' | 'failed to start'
  | 'down' | 'paused' | 'finishing' | 'not supervised' | 'unreadable';

/** Deaths within this window that make a service crash-looping. */
export const CRASH_LOOP_DEATHS = 3;
export const CRASH_LOOP_WINDOW_MS = 60_000;

export interface ServiceRow {
  name: string;
  dir: string;
  state: ServiceState;
  /** Why it fails to start: `run missing`, `run not executable`, `bad interpreter: PATH`. */
  reason: string | null;
  pid: number | null;
  /** Seconds in the current up or down state. */
  uptime: number | null;
  /** When the service last went up or down (epoch ms); null before its first start. */
  sinceMs: number | null;
  /** When it last reported readiness (epoch ms), while ready. */
  readySinceMs: number | null;
  /** Up and ready; null where it is down or cannot report readiness. */
  ready: boolean | null;
  /** The directory has notification-fd. */
  canReportReadiness: boolean;
  /**
   * Deaths in supervise/death_tally: recorded since its supervisor started,
   * at most max-death-tally (100 by default). Not a count since the tree started.
   */
  deathTally: number;
  /**
   * Starts after the first since the tree started (supervise/restarts, kept by
   * tether svscan); null where nobody counts (another scanner, none).
   */
  restarts: number | null;
  /** Deaths of the tally within the last minute. */
  recentDeaths: number;
  /** The last death: `exit N` or a signal name. */
  last: string | null;
  /** When the last death happened (epoch ms). */
  lastMs: number | null;
  normallyUp: boolean;
  /** Wanted up, by the supervisor's record, or (without one) normally up. */
  wantedUp: boolean;
  /** The full status, when a supervisor runs and its status was read. */
  status: ServiceStatus | null;
  /** Why the status could not be read. */
  error?: string;
  /** tether's notify-socket, watchdog and check state (supervise/notify-status), where the supervisor writes one. */
  notify?: NotifyView | null;
}

/** True if `dir` looks like one service rather than a tree of them. */
export function isServiceDir(dir: string): boolean {
  return existsSync(join(dir, 'run')) || existsSync(join(dir, 'supervise'));
}

/**
 * The service directories that `paths` name: a service directory is itself;
 * anything else is a scan directory, whose non-dot subdirectories and their
 * log/ subservices are listed, as a scanner would run them.
 */
export function expandServices(paths: readonly string[]): Array<{ name: string; dir: string }> {
  const out: Array<{ name: string; dir: string }> = [];
  for (const path of paths) {
    if (isServiceDir(path)) {
      out.push({ name: basename(path.replace(/\/+$/, '')) || path, dir: path });
      addLogger(out, basename(path.replace(/\/+$/, '')) || path, path);
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (err) {
      throw new Failure(errnoOf(err) === 'ENOENT' ? notSupervised(path) : `unable to list ${path}: ${describe(err)}`, EXIT_SYSTEM);
    }
    for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
      const dir = join(path, name);
      if (!isDirectory(dir)) continue;
      out.push({ name, dir });
      addLogger(out, name, dir);
    }
  }
  return out;
}

function addLogger(out: Array<{ name: string; dir: string }>, name: string, dir: string): void {
  const log = join(dir, 'log');
  if (isDirectory(log)) out.push({ name: `${name}/log`, dir: log });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Reads one service's row; never throws. */
export function serviceRow(name: string, dir: string, locks: LockTable, nowMs = Date.now()): ServiceRow {
  const row: ServiceRow = {
    name, dir, state: 'not supervised', reason: null, pid: null, uptime: null, sinceMs: null, readySinceMs: null, ready: null,
    canReportReadiness: false, deathTally: 0, restarts: null, recentDeaths: 0, last: null, lastMs: null, normallyUp: true, wantedUp: true, status: null,
  };
  try {
    row.normallyUp = isNormallyUp(dir);
    row.wantedUp = row.normallyUp;
    try {
      row.canReportReadiness = canReportReadiness(dir);
    } catch {
      row.canReportReadiness = false; // unreadable: the row still shows what can be read
    }
    readDeaths(row, nowMs);
    row.restarts = readRestarts(dir);
    if (!isSupervised(dir, locks)) return row;
    if (!existsSync(join(dir, 'supervise', 'status'))) {
      row.state = 'starting';
      return row;
    }
    const rec = readStatusRecord(dir);
    const st = toServiceStatus(rec, row.normallyUp);
    row.status = st;
    row.wantedUp = st.wantedup;
    row.pid = st.pid;
    if (!st.notStartedYet) {
      row.uptime = st.updownfor;
      row.sinceMs = Math.min(tainToMs(rec.stamp), nowMs);
    }
    row.ready = st.up && row.canReportReadiness ? st.ready : null;
    row.readySinceMs = row.ready ? tainToMs(rec.readystamp) : null;
    row.state = stateOf(st, row);
    if (!st.up && !st.finishing && st.wantedup) row.reason = runProblem(dir);
    if (row.reason !== null) row.state = 'failed to start';
    row.notify = readNotifyView(dir, st.up && st.ready);
  } catch (err) {
    row.state = 'unreadable';
    row.error = describe(err);
  }
  return row;
}

/**
 * Signals that `svc` sends on request (-a -h -i -k -q -t -1 -2, the default
 * down-signal, timeout-kill's SIGKILL): a death by one of them was asked for,
 * so restarts and stops never make a service look crash-looping. SIGABRT
 * (-b) stays a crash: abort() sends it too.
 */
const ASKED_SIGNALS = new Set([1, 2, 3, 9, 10, 12, 14, 15]);

function askedFor(death: DeathRecord): boolean {
  return death.sig !== 0 && ASKED_SIGNALS.has(death.sig);
}

function readDeaths(row: ServiceRow, nowMs: number): void {
  let deaths: DeathRecord[];
  try {
    deaths = decodeDeathTally(readFileSync(deathTallyPath(row.dir)));
  } catch {
    return;
  }
  row.deathTally = deaths.length;
  row.recentDeaths = deaths.filter((d) => !askedFor(d) && nowMs - tainToMs(d.stamp) < CRASH_LOOP_WINDOW_MS).length;
  const last = deaths[deaths.length - 1];
  if (last) {
    row.last = last.sig ? signalName(last.sig) : `exit ${last.exitcode}`;
    row.lastMs = tainToMs(last.stamp);
  }
}

function stateOf(st: ServiceStatus, row: ServiceRow): ServiceState {
  if (st.finishing) return st.wantedup ? 'finishing' : 'stopping';
  if (st.up && !st.wantedup) return 'stopping';
  if (st.wantedup && row.recentDeaths >= CRASH_LOOP_DEATHS) return 'crash-looping';
  if (st.up) {
    if (st.paused) return 'paused';
    if (!row.canReportReadiness) return 'up';
    return st.ready ? 'ready' : 'starting';
  }
  return st.wantedup ? 'starting' : 'down';
}

/**
 * Why DIR/run cannot start, as execve would fail on it, or null. Checked
 * from the client, so it works the same on a tree run by s6-supervise.
 */
export function runProblem(dir: string): string | null {
  const run = join(dir, 'run');
  if (!existsSync(run)) return 'run missing';
  try {
    accessSync(run, constants.X_OK);
  } catch {
    return 'run not executable';
  }
  const interp = interpreterOf(run);
  if (interp === null) return null;
  try {
    accessSync(isAbsolute(interp) ? interp : join(dir, interp), constants.X_OK);
    return null;
  } catch {
    return `bad interpreter: ${interp}`;
  }
}

/** The program of a `#!` line, or null. */
function interpreterOf(file: string): string | null {
  const buf = Buffer.alloc(256);
  let n = 0;
  try {
    const fd = openSync(file, 'r');
    try {
      n = readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const head = buf.subarray(0, n).toString('latin1');
  if (!head.startsWith('#!')) return null;
  const line = head.slice(2).split('\n')[0].trim();
  const prog = line.split(/[ \t]+/)[0];
  return prog === '' ? null : prog;
}

export function overview(paths: readonly string[]): ServiceRow[] {
  const locks = LockTable.read();
  const now = Date.now();
  return expandServices(paths).map(({ name, dir }) => serviceRow(name, dir, locks, now));
}

/** 5s, 3m, 2h, 4d: the largest whole unit. */
export function humanDuration(secs: number): string {
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m`;
  if (secs < 86400) return `${Math.floor(secs / 3600)}h`;
  return `${Math.floor(secs / 86400)}d`;
}

/** A row as `tether status --json` and `tether web` give it: ISO times beside epoch ms. */
export function statusJson(r: ServiceRow) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    name: r.name, dir: r.dir, state: r.state, reason: r.reason, pid: r.pid, pgid: r.status?.pgid ?? null,
    up: r.status?.up ?? false, wantedUp: r.wantedUp, normallyUp: r.normallyUp,
    ready: r.ready, canReportReadiness: r.canReportReadiness,
    since: iso(r.sinceMs), sinceMs: r.sinceMs, seconds: r.uptime,
    readySince: iso(r.readySinceMs), readySinceMs: r.readySinceMs,
    restarts: r.restarts, deathTally: r.deathTally, recentDeaths: r.recentDeaths, last: r.last, lastAt: iso(r.lastMs), lastMs: r.lastMs,
    ...(r.error ? { error: r.error } : {}),
    notify: r.notify ?? null,
  };
}
