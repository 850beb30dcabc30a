// Shared mode: many supervisors in one process (the scanner's). The scanner
// owns the process-wide things (signals, the reaper, its own stdio); this
// host gives each hosted supervisor what a process of its own would give it:
// its own fds 0-2, an environment that marks its processes as its own, its
// orphans told apart from the other services', and a boundary that turns a
// throw into the death of that one supervisor.
import { closeSync, constants, openSync } from 'node:fs';
import { reaper } from '../os/reaper';
import { freeReplacedOnPool } from './replacedfile';
import { attribute, markerEntry, markerOf, SERVICE_MARKER } from './attribution';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { errnoText } from '../base/errno';
import { defaultServiceEnv, spawnInSession } from './spawn';
import { Supervisor, type HostSignal, type Spawner } from './supervisor';
import type { CgroupTree, ServiceCgroup } from '../os/cgroup';
import { procStat } from '../os/proc';
import type { Clock } from './clock';

export interface HostedService {
  /** The service directory relative to `base`, as run gets it. */
  name: string;
  base: string;
  /** The service's identity (dev:ino of its directory): its processes carry it as TETHER_SERVICE. */
  key: string;
  /** Our fds for the service's stdin and stdout (log pipe ends); ours (0, 1) when null. */
  stdin: number | null;
  stdout: number | null;
  /** Told every event the service's supervisor sends, as its listeners get it. */
  announced?: (events: string) => void;
}

/** How a hosted supervisor ended: like a process's exit code (0 after `x`, 111 after a throw). */
export type HostedExit = (code: number, reported: boolean) => void;

export class HostedSupervisor {
  private readonly stdio = new Map<number, number>();
  private readonly owned = new Set<number>();
  private readonly env: readonly string[];
  private sup: Supervisor | undefined;
  private exitListener: HostedExit = () => {};
  private ended = false;
  /** The service's cgroup2 leaf, where the machine has a writable hierarchy. */
  private readonly cgroup: ServiceCgroup | undefined;

  constructor(
    private readonly host: SharedHost,
    readonly service: HostedService,
  ) {
    this.cgroup = host.cgroups?.leaf(service.key);
    // Our own copies: the scanner may close its pipe ends while we still spawn finish.
    this.stdio.set(0, service.stdin === null ? 0 : this.reopen(service.stdin, constants.O_RDONLY));
    this.stdio.set(1, service.stdout === null ? 1 : this.reopen(service.stdout, constants.O_WRONLY));
    this.stdio.set(2, 2);
    this.env = [...defaultServiceEnv().filter((e) => !e.startsWith(`${SERVICE_MARKER}=`)), markerEntry(service.key)];
  }

  get supervisor(): Supervisor | undefined {
    return this.sup;
  }

  /** Starts the supervisor; a start-up failure is reported and ends it with s6-supervise's exit code. */
  start(clock?: Clock): void {
    const sup = new Supervisor(this.service.name, {
      // One process, many services: every message names its service.
      warn: (message) => this.host.warn(message.includes(sup.dir) ? message : `${this.service.name}: ${message}`),
      closeStdio: () => this.closeStdio(),
      exited: () => this.endLater(0),
      adoptedChildren: () => this.orphans(),
      strayRoots: () => this.orphans(),
      children: () => reaper.children(),
      guard: (fn) => this.guard(fn),
      stdio: () => this.stdio,
      environment: () => this.env,
      announced: this.service.announced,
    }, { base: this.service.base, clock, spawn: this.spawner() });
    this.sup = sup;
    try {
      sup.start();
    } catch (err) {
      sup.abandon();
      const fatal = err instanceof Failure ? err : new Failure(String((err as Error).message ?? err), EXIT_SYSTEM);
      this.host.warn(fatal.message);
      this.endLater(fatal.exitCode);
    }
  }

  /** run and finish born in the service's leaf, if it has one. */
  private spawner(): Spawner | undefined {
    const cgroup = this.cgroup;
    if (!cgroup) return undefined;
    return (cwd, file, args, extra, io, onFailure, extras) => {
      try {
        return cgroup.spawnInside(() => spawnInSession(cwd, file, args, extra, io, onFailure, extras), (m) => this.host.warn(m));
      } catch (err) {
        // Spawned outside the leaf, the service would escape attribution: a failed start, retried as any other.
        onFailure(`unable to enter the service's cgroup ${cgroup.dir}: ${errnoText(err)}`);
        return undefined;
      }
    };
  }

  onExit(fn: HostedExit): void {
    this.exitListener = fn;
  }

  signal(sig: HostSignal): void {
    this.guard(() => this.sup?.onSignal(sig));
  }

  orphanReaped(pid: number, wstat: number): void {
    this.guard(() => this.sup?.orphanReaped(pid, wstat));
  }

  /**
   * The host boundary: a throw anywhere in this supervisor ends it alone, as
   * a crash would end its process. The scanner then stops what it left
   * running (by process group) and starts a new supervisor, once.
   */
  private guard(fn: () => void): void {
    if (this.ended) return;
    try {
      fn();
    } catch (err) {
      const where = (err as Error).stack?.split('\n')[1]?.trim() ?? '';
      this.host.warn(`${this.service.name}: supervisor failed: ${(err as Error).message ?? err}${where ? ` (${where})` : ''}; restarting it`);
      this.sup?.abandon();
      this.endLater(111, true);
    }
  }

  /**
   * Orphans of this service: with a cgroup, every process in its leaf (its
   * membership survives setsid, double forks and a scrubbed environment);
   * otherwise, among the process's children, those in its groups or
   * sessions or with its marker. run and finish are known without a look at
   * /proc, and finish's own children are no strays: they are left out.
   */
  private orphans(): number[] {
    // Whatever this service does not claim may be nobody's: the host looks, once this turn.
    this.host.scheduleCensus();
    const known = this.host.knownPids();
    const finish = this.sup?.finishPid;
    if (this.cgroup) {
      return this.cgroup.members().filter((pid) => !known.has(pid) && (finish === undefined || procStat(pid)?.sid !== finish));
    }
    const groups = this.sup?.processGroups ?? [];
    return reaper.adoptedChildren().filter((pid) => !known.has(pid) && attribute(pid, this.service.key, groups) !== undefined);
  }

  /** `x` or SIGHUP: the service's later processes get /dev/null, and our pipe copies go. */
  private closeStdio(): void {
    const devnull = openSync('/dev/null', constants.O_RDWR);
    this.releaseFds();
    this.owned.add(devnull);
    this.stdio.set(0, devnull);
    this.stdio.set(1, devnull);
  }

  /** Another open file description of the same pipe end, with its own fd. */
  private reopen(fd: number, flags: number): number {
    const copy = openSync(`/proc/self/fd/${fd}`, flags);
    this.owned.add(copy);
    return copy;
  }

  private releaseFds(): void {
    for (const fd of this.owned) closeSync(fd);
    this.owned.clear();
  }

  /** Like a process's exit: seen by the scanner on a later turn, never inside a call it made. */
  private endLater(code: number, reported = false): void {
    if (this.ended) return;
    this.ended = true;
    setImmediate(() => {
      this.releaseFds();
      // Empty once the service is down; after `x` it may run on, and the next supervisor finds it there.
      this.cgroup?.remove();
      this.host.forget(this);
      this.exitListener(code, reported);
    });
  }
}

export class SharedHost {
  private readonly hosted = new Set<HostedSupervisor>();

  /** A cgroup2 leaf per service, where the machine allows; groups and markers otherwise. */
  cgroups: CgroupTree | undefined;

  /** Told the live orphans no hosted service claims, whenever that list changes. */
  onUnattributed: ((pids: number[]) => void) | undefined;
  private unattributed: number[] = [];
  private censusQueued = false;

  constructor(readonly warn: (message: string) => void) {}

  /** Once, after the reaper has started: reaped orphans are told to every supervisor that may wait on them. */
  start(cgroups?: CgroupTree): void {
    this.cgroups = cgroups;
    freeReplacedOnPool();
    reaper.onOrphan((pid, wstat) => {
      for (const h of this.hosted) h.orphanReaped(pid, wstat);
      if (this.unattributed.includes(pid)) this.scheduleCensus();
    });
  }

  /**
   * Looks, on a later turn and once however often asked, for orphans that
   * no hosted service claims. Asked when a service looks for its strays
   * (after a death: when orphans appear) and when a listed one is reaped;
   * nothing polls.
   */
  scheduleCensus(): void {
    if (this.censusQueued || !this.onUnattributed) return;
    this.censusQueued = true;
    setImmediate(() => {
      this.censusQueued = false;
      this.census();
    });
  }

  private census(): void {
    const known = this.knownPids();
    const keys = new Set<string>();
    const groups = new Set<number>();
    for (const h of this.hosted) {
      keys.add(h.service.key);
      for (const g of h.supervisor?.processGroups ?? []) groups.add(g);
    }
    const now = reaper.adoptedChildren().filter((pid) => !known.has(pid) && !this.claimed(pid, keys, groups));
    if (now.length === this.unattributed.length && now.every((pid, i) => pid === this.unattributed[i])) return;
    this.unattributed = now;
    this.onUnattributed?.(now);
  }

  /** A service's (by cgroup, marker, group or session), or dead already: nothing to name. */
  private claimed(pid: number, keys: ReadonlySet<string>, groups: ReadonlySet<number>): boolean {
    const st = procStat(pid);
    if (st === null || st.state === 'Z' || st.state === 'X') return true;
    if (this.cgroups?.holds(pid)) return true;
    const marker = markerOf(pid);
    if (marker !== undefined) return keys.has(marker);
    return groups.has(st.pgid) || groups.has(st.sid);
  }

  supervise(service: HostedService, clock?: Clock): HostedSupervisor {
    const h = new HostedSupervisor(this, service);
    this.hosted.add(h);
    h.start(clock);
    return h;
  }

  /** Every hosted service's run (or adopted daemon) and finish. */
  knownPids(): Set<number> {
    const out = new Set<number>();
    for (const h of this.hosted) {
      const sup = h.supervisor;
      if (sup?.mainPid !== undefined) out.add(sup.mainPid);
      if (sup?.finishPid !== undefined) out.add(sup.finishPid);
    }
    return out;
  }

  forget(h: HostedSupervisor): void {
    this.hosted.delete(h);
  }
}
