// Who may speak on a service's notify socket (the `notify-access` file), as
// systemd's NotifyAccess=, judged by the sender's pid that the kernel attests
// (SO_PASSCRED). The socket is the service's alone, so `all` means whoever
// can reach it: unlike systemd's shared socket, a helper that has already
// exited when its datagram is read is still counted (systemd's documented
// race).
import { procStat } from '../os/proc';

/** The same words as servicedir's NotifyAccessRule (notify/ sits beside servicedir/, not above it). */
export type NotifyAccess = 'main' | 'exec' | 'all';

export interface ServiceProcesses {
  /** run (or the adopted daemon), and the pid MAINPID= named, if accepted. */
  main: readonly number[];
  /** run's and finish's pids while they live: their sessions and descendants are `exec`. */
  exec: readonly number[];
}

/** Walks up the parent chain (bounded, for a pid reused into a loop) looking for one of `roots`. */
function descendsFrom(pid: number, roots: readonly number[]): boolean {
  let cur = pid;
  for (let hops = 0; hops < 64 && cur > 1; hops++) {
    if (roots.includes(cur)) return true;
    const st = procStat(cur);
    if (st === null) return false;
    // run and finish are session leaders: their session is theirs even after a double fork.
    if (roots.includes(st.sid)) return true;
    cur = st.ppid;
  }
  return false;
}

/** True if `pid` is run, finish or one of theirs (a process of this service). */
export function belongsToService(pid: number, procs: ServiceProcesses): boolean {
  return procs.main.includes(pid) || descendsFrom(pid, [...procs.main, ...procs.exec]);
}

export function senderAllowed(rule: NotifyAccess, pid: number, procs: ServiceProcesses): boolean {
  switch (rule) {
    case 'all':
      return true;
    case 'exec':
      return belongsToService(pid, procs);
    default:
      return procs.main.includes(pid);
  }
}
