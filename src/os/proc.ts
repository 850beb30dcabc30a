// What /proc says about a process. Not native, but OS-level facts that the
// supervisor, the scanner and the pidfile tools all need to agree on.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), T... */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** Start time in clock ticks after boot (field 22). */
  starttime: number;
}

/** Parses /proc/PID/stat, or returns null if the process does not exist. */
export function procStat(pid: number): ProcStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // comm may contain spaces and parentheses: the fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: f[0], ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), starttime: Number(f[19]) };
}

/** True if `pid` is a live (running or stopped, not zombie) process. */
export function isAlive(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

/** Clock ticks per second for /proc times; 100 on every Linux we run on. */
export const CLK_TCK = 100;

let bootMs: number | undefined;
/** The wall-clock time of boot, in ms, from /proc/stat's btime. */
export function bootTimeMs(): number {
  if (bootMs === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'));
    bootMs = m ? Number(m[1]) * 1000 : 0;
  }
  return bootMs;
}

/** When `pid` started, in wall-clock ms (to within 10 ms), or null if it is gone. */
export function processStartMs(pid: number): number | null {
  const st = procStat(pid);
  return st === null ? null : bootTimeMs() + (st.starttime * 1000) / CLK_TCK;
}

/** The direct children of `pid`, from its main thread's children list. */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return [];
  }
}

/**
 * Every process below `root`, parents before their children: the children
 * lists of each of its threads (a child forked by any thread is listed under
 * that thread only), then theirs. Costs reads in proportion to the subtree,
 * not to the system.
 */
export function descendantsOf(root: number): number[] {
  const out: number[] = [];
  const seen = new Set<number>([root]);
  const queue = childrenOfEveryThread(root);
  for (let i = 0; i < queue.length; i++) {
    const pid = queue[i];
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    queue.push(...childrenOfEveryThread(pid));
  }
  return out;
}

function childrenOfEveryThread(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid) => {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
      return text === '' ? [] : text.split(' ').map(Number);
    } catch {
      return [];
    }
  });
}
