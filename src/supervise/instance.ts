// One run of a service: from the spawn of run to the death of its main
// process (run itself, the daemon adopted from its pid file, or the process
// named by MAINPID=), with what belongs to that run alone. A callback that
// holds an Instance other than the supervisor's current live one is stale,
// and does nothing.
import type { Socket } from 'node:net';
import { procStat } from '../os/proc';
import type { FollowedMain } from './mainprocess';

/** The orphans remembered per instance (a daemon may die before we read its pid). */
const MAX_REAPED_REMEMBERED = 1024;

export class Instance {
  /** The service's main process; undefined once it is dead (or given up on). */
  main: FollowedMain | undefined;
  /** A `d` while this instance runs: it applies to whatever process the main process moves to. */
  downRequested = false;
  notifyPipe: Socket | undefined;
  /** The process groups the instance ran in: run's own, and those of the processes it handed over to. */
  readonly groups: number[] = [];
  /** Orphans the reaper collected during this instance, with their wait statuses. */
  readonly reaped = new Map<number, number>();

  constructor(
    /** Started with a notification-fd: an adopted pid means ready. */
    readonly withNotification: boolean,
    /** A `pidfile` service's pid file. */
    readonly pidfile: string | undefined,
  ) {}

  /** The main process starts: its group (run's own session) is the first of the instance's. */
  begin(main: FollowedMain): void {
    this.main = main;
    this.groups.push(main.pid);
  }

  get live(): boolean {
    return this.main !== undefined;
  }

  rememberReaped(pid: number, wstat: number): void {
    if (this.reaped.size >= MAX_REAPED_REMEMBERED) this.reaped.clear();
    this.reaped.set(pid, wstat);
  }

  /**
   * An adopted daemon's groups join the instance's: the one it is in now,
   * and the one it leads if it calls setsid later. The pid file can name it
   * before it has: Debian's nginx writes the file from the parent, racing
   * the child's setsid, and its workers then land in a group named after
   * the daemon that nothing had recorded (their environment, marker
   * included, is overwritten by nginx's process titles). A group id cannot
   * be reused while the group has members, so this never names a stranger's.
   */
  addGroupOf(pid: number): void {
    const pgid = procStat(pid)?.pgid;
    for (const g of [pgid, pid]) if (g !== undefined && g > 1 && !this.groups.includes(g)) this.groups.push(g);
  }

  closeNotifyPipe(): void {
    this.notifyPipe?.destroy();
    this.notifyPipe = undefined;
  }

  /** The main process is gone (or given up on): nothing of this run is awaited any more. */
  ended(): void {
    this.main?.release();
    this.main = undefined;
    this.closeNotifyPipe();
  }
}
