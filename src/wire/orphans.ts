// `.s6-svscan/orphans`: the live orphans a shared scanner holds that no
// service claims (no cgroup leaf, group, session or marker of one of its
// services). They are reaped when they die and stopped only with the tree;
// `tether status --json` names them. One line per process, `PID STARTTIME`
// (its start in clock ticks after boot, /proc/PID/stat's field 22), so a
// reader never names a process that merely reuses the pid.
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf } from '../base/errno';
import { procStat } from '../os/proc';
import { writeFileAtomic } from './atomic';

export const ORPHANS_FILE = join('.s6-svscan', 'orphans');

export interface OrphanEntry {
  pid: number;
  starttime: number;
}

export function encodeOrphans(entries: readonly OrphanEntry[]): string {
  return entries.map((e) => `${e.pid} ${e.starttime}\n`).join('');
}

export function decodeOrphans(text: string): OrphanEntry[] {
  const out: OrphanEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\d+)$/.exec(line);
    if (m) out.push({ pid: Number(m[1]), starttime: Number(m[2]) });
  }
  return out;
}

/** Replaces the record (none at all when `pids` is empty); pids already gone are left out. */
export function writeOrphans(scandir: string, pids: readonly number[]): void {
  const path = join(scandir, ORPHANS_FILE);
  const entries = pids.flatMap((pid) => {
    const st = procStat(pid);
    return st === null ? [] : [{ pid, starttime: st.starttime }];
  });
  if (entries.length > 0) return writeFileAtomic(path, Buffer.from(encodeOrphans(entries)));
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

/** The recorded orphans still alive (same start time, not a zombie), with their command lines. */
export function liveOrphans(scandir: string): Array<{ pid: number; command: string }> {
  let text: string;
  try {
    text = readFileSync(join(scandir, ORPHANS_FILE), 'latin1');
  } catch {
    return [];
  }
  return decodeOrphans(text).flatMap(({ pid, starttime }) => {
    const st = procStat(pid);
    if (st === null || st.starttime !== starttime || st.state === 'Z' || st.state === 'X') return [];
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').split('\0').join(' ');
    } catch {
      return [];
    }
    return [{ pid, command }];
  });
}
