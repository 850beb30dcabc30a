// Killing a service's processes without its supervisor's help: at the end of
// a shutdown's grace, and on a second Ctrl-C. Every process of a service
// started under a scanner carries the service's marker in its environment
// (TETHER_SERVICE=<dev>:<ino>), whatever session or group it moved to, so
// the marker finds them all, and only them.
import { readdirSync } from 'node:fs';
import { procStat } from '../os/proc';
import { killQuietly } from '../os/signal';
import { markerOf } from '../supervise/attribution';

/** Every live process that carries a service marker, by service key. */
export function processesByMarker(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const pid of readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).map(Number)) {
    if (pid === process.pid) continue;
    const key = markerOf(pid);
    const st = key === undefined ? null : procStat(pid);
    if (key === undefined || st === null || st.state === 'Z') continue;
    const list = out.get(key);
    if (list) list.push(pid);
    else out.set(key, [pid]);
  }
  return out;
}

/** SIGKILL to every live process of these services, but `spare` (their supervisor); returns the pids. */
export function killNow(keys: readonly string[], spare?: number): number[] {
  const byMarker = processesByMarker();
  const killed: number[] = [];
  for (const key of keys) {
    for (const pid of byMarker.get(key) ?? []) {
      if (pid !== spare && killQuietly(pid, 'SIGKILL')) killed.push(pid);
    }
  }
  return killed;
}
