// Stray cleanup: once a service's main process is dead, whatever its instance
// left behind (the process groups it ran in, and every process that landed on
// us through the subreaper) is stopped (ProcessStop). systemd calls this
// KillMode=control-group; it is what keeps an old child from holding the port
// the next instance needs.
import { descendantsOf, procStat } from '../os/proc';
import type { Clock } from './clock';
import { ProcessStop } from './stop';

export interface StrayOptions {
  /** Process groups of the instance: run's own, and the adopted daemon's if it made one. */
  groups: readonly number[];
  /** Our live children that libuv did not spawn: orphans adopted through the subreaper. */
  adopted: () => number[];
  /** Where to look for the instance's processes; every descendant of ours when absent. */
  roots?: () => number[];
  downSignal: number;
  /** ms before SIGKILL. */
  timeoutKill: number;
  clock: Clock;
  /** Called once, when no process of the instance remains. */
  onClean: () => void;
}

/** Stops the instance's strays; `recheck()` on every SIGCHLD. */
export function strayCleanup(opts: StrayOptions): ProcessStop {
  return new ProcessStop({
    members: () => instanceProcesses(opts),
    downSignal: opts.downSignal,
    timeoutKill: opts.timeoutKill,
    clock: opts.clock,
    onGone: opts.onClean,
  });
}

/**
 * Live processes of the instance: the adopted orphans, and every process
 * in one of its groups. As a subreaper we are an ancestor of all of them,
 * so walking our own descendants finds them without reading all of /proc.
 * Zombies are already dead and only wait for their parent.
 */
function instanceProcesses(opts: StrayOptions): number[] {
  const adopted = new Set(opts.adopted());
  const groups = new Set(opts.groups);
  const candidates = opts.roots ? opts.roots().flatMap((root) => [root, ...descendantsOf(root)]) : descendantsOf(process.pid);
  return candidates.filter((pid) => {
    const st = procStat(pid);
    return st !== null && st.state !== 'Z' && st.state !== 'X' && (adopted.has(pid) || groups.has(st.pgid));
  });
}
