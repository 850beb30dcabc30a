// One run of a service: from the spawn of run to the death of its main
// process (run itself, or the daemon adopted from its pid file), with what
// belongs to that run alone. A callback that holds an Instance other than
// the supervisor's current one is stale, and does nothing.
import type { Socket } from 'node:net';
import { procStat } from '../os/proc';
import type { MainProcess } from './mainprocess';

/** The orphans remembered per instance (a daemon may die before we read its pid). */
const MAX_REAPED_REMEMBERED = 1024;

export class Instance {
  /** run, or the adopted daemon; undefined while the pid file is read, and once it is dead. */
  main: MainProcess | undefined;
  /** A `pidfile` service's run until it exits, and the file it must fill. */
  adoption: { parent: MainProcess; pidfile: string } | undefined;
  /** Set while the pid file is being read (run exited 0). */
  adoptionWait: AbortController | undefined;
  /** A `d` that came while no pid was known yet: it applies to the daemon once found. */
  downRequested = false;
  notifyPipe: Socket | undefined;
  /** The process groups the instance ran in: run's own, and the daemon's if it made one. */
  readonly groups: number[];
  /** Orphans the reaper collected during this instance, with their wait statuses. */
  readonly reaped = new Map<number, number>();

  constructor(
    main: MainProcess,
    /** Started with a notification-fd: an adopted pid means ready. */
    readonly withNotification: boolean,
    pidfile: string | undefined,
  ) {
    this.main = main;
    this.groups = [main.pid];
    if (pidfile !== undefined) this.adoption = { parent: main, pidfile };
  }

  get adopting(): boolean {
    return this.adoptionWait !== undefined;
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
    this.main = undefined;
    this.adoption = undefined;
    this.adoptionWait?.abort();
    this.adoptionWait = undefined;
    this.closeNotifyPipe();
  }
}
