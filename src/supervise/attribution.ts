// Which service an orphan belongs to, when one process hosts many services
// and the kernel re-parents every service's orphans to it. Nothing records an
// orphan's original parent, so we use what the instance left on it: the
// session or process group the instance created (kept by a fork without
// setsid), else the service's marker in the environment it started with
// (kept across setsid and double forks, unless the daemon scrubs it).
import { readFileSync } from 'node:fs';
import { procStat } from '../os/proc';

/** The environment variable that names a process's service in shared mode. */
export const SERVICE_MARKER = 'TETHER_SERVICE';

/** `TETHER_SERVICE=KEY`: the entry every process of the service starts with. */
export function markerEntry(key: string): string {
  return `${SERVICE_MARKER}=${key}`;
}

/** The service key in `pid`'s initial environment, or undefined (gone, another user's, scrubbed). */
export function markerOf(pid: number): string | undefined {
  let env: Buffer;
  try {
    env = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined;
  }
  const prefix = `${SERVICE_MARKER}=`;
  let at = env.indexOf(prefix);
  while (at > 0 && env[at - 1] !== 0) at = env.indexOf(prefix, at + 1);
  if (at < 0) return undefined;
  const end = env.indexOf(0, at);
  return env.toString('latin1', at + prefix.length, end < 0 ? env.length : end);
}

export type Attribution = 'group' | 'env';

/**
 * Why `pid` belongs to the service with marker `key` whose instance ran in
 * `groups`, or undefined if nothing says it does. Another service's marker
 * rules a process out even in one of our groups (a group id is a pid, and
 * pids are reused); with no marker at all, the group or session decides.
 */
export function attribute(pid: number, key: string, groups: readonly number[]): Attribution | undefined {
  const st = procStat(pid);
  if (st === null || st.state === 'Z' || st.state === 'X') return undefined;
  const marker = markerOf(pid);
  if (marker !== undefined && marker !== key) return undefined;
  if (groups.includes(st.pgid) || groups.includes(st.sid)) return 'group';
  return marker === key ? 'env' : undefined;
}
