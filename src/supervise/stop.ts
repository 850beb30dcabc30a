// The one way tether stops processes it does not run as a service's main
// process: what an instance left behind (stray cleanup), a service whose
// supervisor died (the scanner's orphan stop), the processes of a killed
// shared host's instance, and whatever remains when a tree shuts down. Each
// gets the down-signal and SIGCONT once, then SIGKILL after timeout-kill,
// repeated while something outlives it (a process stopped in D state); the
// stop is over when `members()` comes back empty. The caller says when to
// look again (a reap, a SIGCHLD, a timer): nothing here polls.
import type { Clock, TimerHandle } from './clock';
import { killGroupQuietly, killQuietly } from '../os/signal';
import { procStat } from '../os/proc';

const SIGCONT = 18;
const SIGKILL = 9;
/** Repeat SIGKILL this often for a process that outlives it. */
const KILL_REPEAT_MS = 5000;

export interface StopOptions {
  /** The live processes still to stop; new ones (re-parented since) get the same treatment. */
  members: () => number[];
  /** Process groups signalled with them: a service's own, which a background child may still be in (never ours: see separateGroupOf). */
  groups?: readonly number[];
  downSignal: number;
  /** ms between the down-signal and SIGKILL. */
  timeoutKill: number;
  clock: Clock;
  /** Called once, when no member is left. */
  onGone: () => void;
  /**
   * SIGKILL to every member at once, where one call can (a cgroup's
   * cgroup.kill: it also catches what forks meanwhile); members are still
   * killed one by one after it.
   */
  killAll?: () => void;
}

export class ProcessStop {
  private readonly signalled = new Set<number>();
  private killing = false;
  private timer: TimerHandle | undefined;
  private finished = false;

  constructor(private readonly opts: StopOptions) {}

  get active(): boolean {
    return !this.finished;
  }

  /** Signals the members, and finishes at once if there are none. */
  begin(): void {
    const groups = new Set(this.opts.groups ?? []);
    for (const g of groups) {
      killGroupQuietly(g, this.opts.downSignal);
      killGroupQuietly(g, SIGCONT);
    }
    const members = this.opts.members();
    // A member of a group just signalled has had its down-signal: a second one,
    // handled after the first, would run its handler twice.
    if (groups.size > 0) {
      for (const pid of members) {
        const pgid = procStat(pid)?.pgid;
        if (pgid !== undefined && groups.has(pgid)) this.signalled.add(pid);
      }
    }
    if (!this.finished) this.signal(members);
    if (!this.finished) this.timer = this.opts.clock.after(this.opts.timeoutKill, () => this.escalate());
  }

  /** Call whenever a member may have gone or a new one appeared. */
  recheck(): void {
    if (this.finished) return;
    this.signal(this.opts.members());
  }

  /** The down-signal to members not yet signalled (SIGKILL to all once killing); finishes when none is left. */
  private signal(members: number[]): void {
    if (members.length === 0) return this.finish();
    for (const pid of members) {
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

  /** Stops without waiting (the supervisor or the scanner is leaving). */
  abandon(): void {
    this.timer?.cancel();
    this.finished = true;
  }

  private escalate(): void {
    if (this.finished) return;
    this.killing = true;
    this.opts.killAll?.();
    for (const g of this.opts.groups ?? []) killGroupQuietly(g, SIGKILL);
    this.recheck();
    if (!this.finished) this.timer = this.opts.clock.after(KILL_REPEAT_MS, () => this.escalate());
  }

  private finish(): void {
    this.timer?.cancel();
    this.finished = true;
    this.opts.onGone();
  }
}
