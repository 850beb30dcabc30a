// The process that *is* the service, whichever way we got it: run itself, or
// a daemon adopted through the subreaper (a pidfile service). The supervisor
// only signals it and hears of its death, so either kind plugs in.
import { reaper } from '../os/reaper';
import { killGroupQuietly, killQuietly, separateGroupOf } from '../os/signal';

export type ExitListener = (wstat: number) => void;

export interface MainProcess {
  readonly pid: number;
  /** Sends `sig` to the process; a process already gone is not an error. */
  kill(sig: number): void;
  /** Sends `sig` to its process group (the service is a session leader: pgid = pid). */
  killGroup(sig: number): void;
  /** Called once with the raw wait status when the process has been reaped. */
  onExit(fn: ExitListener): void;
}

/**
 * A child of ours that libuv does not know: run or finish started through
 * posix_spawn, or a daemon adopted through the subreaper. The reaper reaps
 * it on SIGCHLD and reports its raw wait status.
 */
export class ReapedChild implements MainProcess {
  /** `adopted`: it may already be dead when we start watching (a daemon found through its pid file). */
  constructor(readonly pid: number, private readonly adopted = false) {}

  kill(sig: number): void {
    // Gone already: the death comes through the reaper anyway.
    killQuietly(this.pid, sig);
  }

  /**
   * A double-forked daemon is not its group's leader (the middle process
   * that called setsid was, and is gone): signal the group it is really in.
   * Never our own group, which a daemon cannot be in: run starts a session.
   */
  killGroup(sig: number): void {
    const pgid = separateGroupOf(this.pid);
    if (pgid === null) this.kill(sig);
    else killGroupQuietly(pgid, sig);
  }

  onExit(fn: ExitListener): void {
    reaper.watch(this.pid, (_pid, wstat) => fn(wstat));
    // An adopted daemon may have died before we watched it: reap now, the listener fires if so.
    if (this.adopted) reaper.reap();
  }
}
