// Stray cleanup: once a service's main process is dead, whatever its instance
// left behind (the process groups it ran in, and every process that landed on
// us through the subreaper) gets the down-signal and SIGCONT, then SIGKILL
// after timeout-kill. systemd calls this KillMode=control-group; it is what
// keeps an old child from holding the port the next instance needs.
import { descendantsOf, procStat } from '../os/proc';
import { killQuietly } from '../os/signal';
import type { Clock, TimerHandle } from './clock';

const SIGCONT = 18;
const SIGKILL = 9;
/** Repeat SIGKILL this often for a stray that outlives it (stopped in D state, say). */
const KILL_REPEAT_MS = 5000;

export interface StrayOptions {
  /** Process groups of the instance: run's own, and the adopted daemon's if it made one. */
  groups: readonly number[];
  /** Our live children that libuv did not spawn: orphans adopted through the subreaper. */
  adopted: () => number[];
  downSignal: number;
  /** ms before SIGKILL. */
  timeoutKill: number;
  clock: Clock;
  /** Called once, when no process of the instance remains. */
  onClean: () => void;
}

export class StrayCleanup {
  private readonly signalled = new Set<number>();
  private killing = false;
  private timer: TimerHandle | undefined;
  private finished = false;

  constructor(private readonly opts: StrayOptions) {}

  get active(): boolean {
    return !this.finished;
  }

  /** Signals what is left, and finishes at once if nothing is. */
  begin(): void {
    this.recheck();
    if (!this.finished) this.timer = this.opts.clock.after(this.opts.timeoutKill, () => this.escalate());
  }

  /**
   * Call whenever a process may have gone or appeared (every SIGCHLD): new
   * strays (re-parented since) get signalled too; none left means done.
   */
  recheck(): void {
    if (this.finished) return;
    const strays = this.scan();
    if (strays.length === 0) return this.finish();
    for (const pid of strays) {
      if (this.signalled.has(pid) && !this.killing) continue;
      this.signalled.add(pid);
      if (this.killing) {
        killQuietly(pid, SIGKILL);
      } else {
        killQuietly(pid, this.opts.downSignal);
        killQuietly(pid, SIGCONT);
      }
    }
  }

  /** Stops without waiting: the supervisor is exiting. */
  abandon(): void {
    this.timer?.cancel();
    this.finished = true;
  }

  private escalate(): void {
    if (this.finished) return;
    this.killing = true;
    this.recheck();
    if (!this.finished) this.timer = this.opts.clock.after(KILL_REPEAT_MS, () => this.escalate());
  }

  private finish(): void {
    this.timer?.cancel();
    this.finished = true;
    this.opts.onClean();
  }

  /**
   * Live processes of the instance: the adopted orphans, and every process
   * in one of its groups. As a subreaper we are an ancestor of all of them,
   * so walking our own descendants finds them without reading all of /proc.
   * Zombies are already dead and only wait for their parent.
   */
  private scan(): number[] {
    const adopted = new Set(this.opts.adopted());
    const groups = new Set(this.opts.groups);
    return descendantsOf(process.pid).filter((pid) => {
      const st = procStat(pid);
      return st !== null && st.state !== 'Z' && st.state !== 'X' && (adopted.has(pid) || groups.has(st.pgid));
    });
  }
}
