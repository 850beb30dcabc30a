// Shared bench plumbing: a report that prints each figure beside s6's, with
// the ratio and the goal, and small measuring helpers.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class Report {
  rows = [];

  section(name) {
    console.log(`\n== ${name} ==`);
  }

  /**
   * One comparison. `goal` is a predicate on (tether, s6) with a text; a row
   * that misses its goal is flagged but never fails the run: goals are
   * reported, not asserted.
   */
  row(name, tether, s6, unit, goal) {
    const ratio = s6 ? tether / s6 : NaN;
    const met = goal ? goal.test(tether, s6) : undefined;
    this.rows.push({ name, tether, s6, unit, ratio, goal: goal?.text, met });
    const f = (v) => (v === null || v === undefined ? '-' : `${Number(v.toFixed(3))} ${unit}`);
    const r = Number.isFinite(ratio) ? `x${ratio.toFixed(2)}` : '';
    const g = goal ? ` goal: ${goal.text} [${met ? 'met' : 'MISSED'}]` : '';
    console.log(`${name.padEnd(48)} tether ${f(tether).padEnd(14)} s6 ${f(s6).padEnd(14)} ${r.padEnd(7)}${g}`);
  }

  /**
   * The same figures for one kind of tether, one row each: `specs` are
   * { name, pick, unit, goal }, where `pick` takes a figure from `tether`
   * and from `s6`; `prefix` names the kind (`shared: `).
   */
  compare(specs, tether, s6, prefix = '') {
    for (const { name, pick, unit, goal } of specs) this.row(`${prefix}${name}`, pick(tether), pick(s6), unit, goal);
  }

  summary() {
    const goals = this.rows.filter((r) => r.met !== undefined);
    const missed = goals.filter((r) => !r.met);
    console.log(`\n${goals.length - missed.length} of ${goals.length} goals met${missed.length ? `; missed: ${missed.map((r) => r.name).join(', ')}` : ''}`);
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Private memory of a process in MiB: Private_Clean + Private_Dirty from smaps_rollup. */
export function privateMiB(pid) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
}

/** utime + stime of a process, in clock ticks. */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/**
 * Keeps an area's rows of this run in build/bench/AREA.json, with the date
 * and the machine's load: scripts/readme-bench.mjs writes README tables
 * from them, so no figure there is typed by hand.
 */
export function saveRows(area, rows) {
  const dir = new URL('../../build/bench/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const load = readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');
  writeFileSync(`${dir}${area}.json`, `${JSON.stringify({ date: new Date().toISOString(), load, rows }, null, 1)}\n`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 10 ms for up to `ms`; throws naming `what` if it never holds. */
export async function until(pred, what, ms = 60_000) {
  for (const end = performance.now() + ms; performance.now() < end; await sleep(10)) {
    if (pred()) return;
  }
  throw new Error(`bench: gave up waiting for ${what}`);
}

/** The pid in a service's supervise/status (the service's, or 0 when down). */
export function statusPid(dir) {
  return Number(readFileSync(join(dir, 'supervise', 'status')).readBigUInt64BE(24));
}

/** A service directory whose run is `#!/bin/sh` + `body`; `down` makes it start down. */
export function writeService(dir, body, { down = false } = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run'), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, 'run'), 0o755);
  if (down) writeFileSync(join(dir, 'down'), '');
  return dir;
}

/**
 * Every process a bench starts, ended by pid at the end even if a
 * measurement throws. A supervisor is ended with its service: s6-supervise
 * leaves its service running when it is killed, so the service's process
 * group (from supervise/status) is killed too.
 */
export class Started {
  pids = new Set();
  supervised = [];

  spawn(cmd, args, opts = {}) {
    const child = spawn(cmd, args, { stdio: 'ignore', ...opts });
    this.add(child.pid);
    child.once('exit', () => this.pids.delete(child.pid));
    return child;
  }

  add(pid) {
    if (pid > 0) this.pids.add(pid);
  }

  /** Starts `cmd args dir` as the supervisor of `dir`. */
  supervise(cmd, args, dir) {
    const child = this.spawn(cmd, [...args, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    this.supervised.push({ child, dir });
    return child;
  }

  /**
   * Asks each supervisor to stop (`s6-svc -dx`), waits up to 15 s, then
   * kills what is left by pid: a service whose supervisor did not bring it
   * down (its status still names it) goes with its process group.
   */
  async stop() {
    for (const { dir } of this.supervised) spawnSync('/usr/bin/s6-svc', ['-dx', dir]);
    await Promise.all(this.supervised.map(({ child }) => (child.exitCode !== null || child.signalCode !== null ? null
      : new Promise((res) => {
        const timer = setTimeout(res, 15_000);
        child.once('exit', () => { clearTimeout(timer); res(); });
      }))));
    for (const pid of this.pids) killQuietly(pid);
    this.pids.clear();
    for (const { dir } of this.supervised) {
      const pid = leftUp(dir);
      if (pid > 0) killQuietly(-pid);
    }
    this.supervised = [];
  }
}

/**
 * The pid a service's status still names, if that process lives and leads
 * its own group (as a service does, in its own session): only then is its
 * group killed, never a group that merely took over a reused pid number.
 */
export function leftUp(dir) {
  try {
    const pid = statusPid(dir);
    if (pid <= 0) return 0;
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return pgid === pid ? pid : 0;
  } catch {
    return 0; // no status, or no such process
  }
}

/** SIGKILL to `pid` (a negative one: its group), if it is still there. */
export function killQuietly(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** The pids of `pid`'s children, from /proc. */
export function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The `p`-th percentile (0-100) of `xs`, nearest rank. */
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
