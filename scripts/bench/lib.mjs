// Shared bench plumbing: a report that prints each figure beside s6's, with
// the ratio and the goal, and small measuring helpers.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

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
