// The overview of `tether status`: one row per service, from on-disk state
// only, so it works the same on a tree run by s6.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeDeathTally, deathTallyPath } from '../wire/deathtally';
import { signalName } from '../wire/signals';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { describe } from '../base/errno';
import { isNormallyUp, readStatusRecord, toServiceStatus, type ServiceStatus } from './status';
import { isSupervised, LockTable } from './supervised';

export type ServiceState = 'up' | 'down' | 'finishing' | 'paused' | 'wanted up' | 'starting' | 'not supervised' | 'unreadable';

export interface ServiceRow {
  name: string;
  dir: string;
  state: ServiceState;
  pid: number | null;
  /** Seconds in the current up or down state. */
  uptime: number | null;
  ready: boolean | null;
  /** Deaths recorded in the tally since the supervisor started. */
  deaths: number;
  /** The last death: `exit N` or a signal name. */
  last: string | null;
  normallyUp: boolean;
  /** The full status, when a supervisor runs and its status was read. */
  status: ServiceStatus | null;
  /** Why the status could not be read. */
  error?: string;
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
      throw new Failure(`unable to list ${path}: ${describe(err)}`, EXIT_SYSTEM);
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
export function serviceRow(name: string, dir: string, locks: LockTable): ServiceRow {
  const row: ServiceRow = {
    name, dir, state: 'not supervised', pid: null, uptime: null, ready: null, deaths: 0, last: null, normallyUp: true, status: null,
  };
  try {
    row.normallyUp = isNormallyUp(dir);
    const deaths = readDeaths(dir);
    row.deaths = deaths.length;
    const lastDeath = deaths[deaths.length - 1];
    if (lastDeath) row.last = lastDeath.sig ? signalName(lastDeath.sig) : `exit ${lastDeath.exitcode}`;
    if (!isSupervised(dir, locks)) return row;
    if (!existsSync(join(dir, 'supervise', 'status'))) {
      row.state = 'starting';
      return row;
    }
    const st = toServiceStatus(readStatusRecord(dir), row.normallyUp);
    row.status = st;
    row.state = stateOf(st);
    row.pid = st.pid;
    row.uptime = st.updownfor;
    row.ready = st.up ? st.ready : null;
  } catch (err) {
    row.state = 'unreadable';
    row.error = describe(err);
  }
  return row;
}

function readDeaths(dir: string) {
  try {
    return decodeDeathTally(readFileSync(deathTallyPath(dir)));
  } catch {
    return [];
  }
}

function stateOf(st: ServiceStatus): ServiceState {
  if (st.finishing) return 'finishing';
  if (st.up) return st.paused ? 'paused' : 'up';
  return st.wantedup ? 'wanted up' : 'down';
}

export function overview(paths: readonly string[]): ServiceRow[] {
  const locks = LockTable.read();
  return expandServices(paths).map(({ name, dir }) => serviceRow(name, dir, locks));
}

/** 5s, 3m, 2h, 4d: the largest whole unit. */
export function humanDuration(secs: number): string {
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m`;
  if (secs < 86400) return `${Math.floor(secs / 3600)}h`;
  return `${Math.floor(secs / 86400)}d`;
}
