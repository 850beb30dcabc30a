// The process that *is* the service, whichever way we got it: run itself, a
// daemon adopted from its pid file (adoption.ts), or a process run named with
// MAINPID=. The supervisor only signals it, hears that it is another process
// now, and hears of its death, so every kind plugs into one state machine.
import { reaper } from '../os/reaper';
import { procStat } from '../os/proc';
import { isOwnDescendant } from '../os/pidfile';
import { killGroupQuietly, killQuietly, separateGroupOf } from '../os/signal';

export type ExitListener = (wstat: number) => void;

export interface MainProcess {
  readonly pid: number;
  /** Sends `sig` to the process; a process already gone is not an error. */
  kill(sig: number): void;
  /** Sends `sig` to its process group (the service is a session leader: pgid = pid). */
  killGroup(sig: number): void;
  /** Called once with the raw wait status when the service's process has been reaped. */
  onExit(fn: ExitListener): void;
  /** Called when the service's main process is another process from now on, with its pid. */
  onMoved?(fn: (pid: number) => void): void;
  /** The instance is over: every wait and timer stops, and no listener is called any more. */
  release?(): void;
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

/**
 * The main process of one instance: run at first, then whichever process
 * it hands over to (follow). Once handed over, run's own exit is no death;
 * the followed process's is, whenever the reaper reaps it (it becomes our
 * child when its parents exit: we are a subreaper). `settle` runs before
 * run's exit is judged: a MAINPID= sent just before exiting counts first.
 */
export class FollowedMain implements MainProcess {
  /** What signals go to; undefined while no process is known (a pid file being read). */
  protected target: MainProcess | undefined;
  private lastPid: number;
  private exitListener: ExitListener = () => {};
  private movedListener: (pid: number) => void = () => {};
  protected released = false;

  constructor(
    protected readonly origin: MainProcess,
    protected readonly settle: () => void = () => {},
  ) {
    this.target = origin;
    this.lastPid = origin.pid;
    origin.onExit((wstat) => {
      if (!this.released) this.originExited(wstat);
    });
  }

  /** The followed process's pid; while none is known, the last one's. */
  get pid(): number {
    return this.target?.pid ?? this.lastPid;
  }

  /** A process to signal is known (not while a pid file is being read, nor after the death). */
  get present(): boolean {
    return this.target !== undefined;
  }

  get handedOver(): boolean {
    return this.target !== this.origin;
  }

  kill(sig: number): void {
    this.target?.kill(sig);
  }

  killGroup(sig: number): void {
    this.target?.killGroup(sig);
  }

  onExit(fn: ExitListener): void {
    this.exitListener = fn;
  }

  onMoved(fn: (pid: number) => void): void {
    this.movedListener = fn;
  }

  release(): void {
    this.released = true;
  }

  /** EXTEND_TIMEOUT_USEC=: a readiness bound in force lasts at least `ms` more; run alone has none. */
  extendReadiness(_ms: number): void {}

  /** `pid` is the service's main process from now on; the caller has checked it is the service's. */
  follow(pid: number): void {
    if (this.released || pid === this.target?.pid) return;
    const next = new ReapedChild(pid, true);
    this.target = next;
    this.lastPid = pid;
    this.movedListener(pid);
    // Watched after the move is told: a process already dead is reaped at once, and its death comes second.
    next.onExit((wstat) => {
      if (!this.released && this.target === next) this.died(wstat);
    });
  }

  protected originExited(wstat: number): void {
    this.settle();
    if (this.released) return;
    if (!this.handedOver) return this.died(wstat);
    // run handed over, then exited: the service lives on in the followed
    // process, unless that is gone already and was never ours to reap (run
    // reaped it), or its pid is not of our tree any more.
    const followed = this.target?.pid;
    if (followed === undefined) return;
    const st = procStat(followed);
    if (st === null || (st.ppid !== process.pid && !isOwnDescendant(followed))) this.died(wstat);
  }

  /** The service's death: told once, and nothing more after it. */
  protected died(wstat: number): void {
    if (this.released) return;
    if (this.target) this.lastPid = this.target.pid;
    this.target = undefined;
    this.release();
    this.exitListener(wstat);
  }

  /** The pid named as the service's without a process to signal (a daemon that died before it was read). */
  protected setPid(pid: number): void {
    this.lastPid = pid;
  }
}
