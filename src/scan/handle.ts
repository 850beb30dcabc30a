// How the scanner runs a service's supervisor: as a process of its own
// (`tether supervise NAME`, or any s6-supervise-like program), or inside the
// scanner (shared mode). The scanner drives both the same way: start, signal,
// hear of the end.
import { spawn } from 'node:child_process';
import { reaper } from '../os/reaper';
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { CgroupTree } from '../os/cgroup';
import { ORPHANS_FILE, writeOrphans } from '../wire/orphans';
import { errnoText } from '../base/errno';
import { join } from 'node:path';
import { isLocked } from '../os/native';
import { procStat } from '../os/proc';
import { markerOf, SERVICE_MARKER } from '../supervise/attribution';
import { processesByMarker } from './kill';
import { countServices, fdBudgetProblem, HostFdLimit } from './fdbudget';
import { SharedHost, type HostedSupervisor } from '../supervise/shared';
import { serviceEnvObject } from '../supervise/spawn';

/** How a supervisor ended: an exit code or a signal, or a failure to start at all. */
export type SupervisorEnd =
  /** `reported`: the host has already said why, in one line. */
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null; reported?: boolean }
  | { kind: 'error'; error: Error };

export interface SupervisorHandle {
  /** The supervisor's own process, when it has one: it carries the service's marker too. */
  readonly pid?: number;
  /** SIGTERM (stop the service, then exit) or SIGHUP (exit once it is down). */
  signal(sig: 'SIGTERM' | 'SIGHUP'): void;
  /** SIGKILL to the supervisor's process, if it has one of its own. */
  kill(): void;
  /** Called once, on a later turn of the event loop. */
  onEnd(fn: (end: SupervisorEnd) => void): void;
}

export interface SupervisedService {
  /** The directory's name relative to the scan directory (`foo`, `foo/log`). */
  name: string;
  /** dev:ino of the directory. */
  key: string;
  /** Our read end of its log pipe, for a logger; our write end, for a logged service. */
  stdin: number | null;
  stdout: number | null;
  /** Told every event its supervisor sends, where the launcher hosts it in this process (hearsEvents). */
  announced?: (events: string) => void;
}

export interface SupervisorLauncher {
  /**
   * True if the supervisors run in this process and tell `announced` their
   * events; otherwise the scanner listens on each event/ fifodir, as any s6
   * client does.
   */
  readonly hearsEvents?: boolean;
  /** Called once, after the scanner's reaper has started and before any launch. */
  start?(): void;
  /** Starts a supervisor for `svc`; throws if that fails at once. */
  launch(svc: SupervisedService): SupervisorHandle;
  /**
   * Live processes of a previous instance of the service that no supervisor
   * holds any more (their host was killed): to stop before a new start.
   */
  leftovers?(svc: SupervisedService, dir: string): Leftovers | undefined;
  /** The scanner is leaving: let go of what the launcher made (cgroups). */
  close?(): void;
}

/** What a killed host left of one service, as found by its successor. */
export interface Leftovers {
  pids: number[];
  /** Those still alive (and, with a cgroup, whatever they forked since). */
  members(): number[];
  /** Calls `fn` when the members may have changed (cgroup.events); undefined where only a look at /proc tells. */
  watch?(fn: () => void): () => void;
  /** SIGKILL to all of them at once (cgroup.kill), where they are in a cgroup of their own. */
  killAll?(): void;
}

/** One process per service: `COMMAND... NAME`, started in the scan directory. */
export class ProcessLauncher implements SupervisorLauncher {
  constructor(
    private readonly command: readonly string[],
    private readonly scandir: string,
    /** Ours reads the started open-files limit from our environment; another supervisor would pass it on to its services. */
    private readonly opts: { ownSupervisor: boolean } = { ownSupervisor: true },
  ) {}

  launch(svc: SupervisedService): SupervisorHandle {
    const [cmd, ...args] = this.command;
    // Its own session: a terminal's ^C reaches only the scanner, which then stops everything in order.
    // The service's marker in its environment goes down to every process of
    // the service: if the supervisor is killed, the scanner knows its
    // adopted orphans by it, whatever a stale status file says.
    // Never the scanner's stdin (a terminal, a pipe): /dev/null, or a logger's pipe.
    const child = reaper.leaveToLibuv(spawn(cmd, [...args, svc.name], {
      cwd: this.scandir,
      env: { ...(this.opts.ownSupervisor ? process.env : serviceEnvObject()), [SERVICE_MARKER]: svc.key },
      stdio: [svc.stdin ?? 'ignore', svc.stdout ?? 'inherit', 'inherit'],
      detached: true,
    }));
    const send = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(child.pid, sig);
      } catch {
        // gone already: its exit is on the way
      }
    };
    return {
      pid: child.pid,
      signal: send,
      kill: () => send('SIGKILL'),
      onEnd: (fn) => {
        let ended = false;
        const once = (end: SupervisorEnd) => {
          if (!ended) fn(end);
          ended = true;
        };
        child.once('error', (error) => once({ kind: 'error', error }));
        child.once('exit', (code, signal) => once({ kind: 'exit', code, signal }));
      },
    };
  }
}

/** Shared mode: every supervisor in this process, through one SharedHost. */
export class InProcessLauncher implements SupervisorLauncher {
  readonly hearsEvents = true;
  private readonly host: SharedHost;
  private cgroups: CgroupTree | undefined;
  private previous: Map<string, number[]> | undefined;
  private readonly fdLimit = new HostFdLimit();
  private hosted = 0;
  /** Services (loggers counted) in the scan directory at start, counted once for both uses. */
  private initialServices: number | undefined;
  /** How strays are told apart: `cgroup` (a cgroup2 leaf per service), or `marker` and why not cgroup. */
  attribution: { method: 'cgroup' | 'marker'; reason?: string } = { method: 'marker', reason: 'not started' };

  constructor(
    private readonly scandir: string,
    private readonly warn: (message: string) => void,
  ) {
    this.host = new SharedHost(warn);
  }

  /**
   * Call once the reaper runs (and the scan directory is locked: the
   * cgroup is named after it, and only its one scanner may make it).
   */
  start(): void {
    const st = statSync(this.scandir);
    const tree = CgroupTree.open(`${st.dev}:${st.ino}`);
    this.cgroups = typeof tree === 'string' ? undefined : tree;
    this.attribution = typeof tree === 'string' ? { method: 'marker', reason: tree } : { method: 'cgroup' };
    this.host.onUnattributed = (pids) => {
      try {
        writeOrphans(this.scandir, pids);
      } catch (err) {
        this.warn(`unable to record the unattributed orphans in ${this.scandir}/${ORPHANS_FILE}: ${errnoText(err)}`);
      }
    };
    this.host.start(this.cgroups);
    // At the started limit from the first spawn on, if the whole tree fits under it.
    this.fdLimit.hosting(this.servicesAtStart());
  }

  /** Why the tree cannot be hosted in this process (too low an fd limit), or undefined: ask before start(). */
  fdBudgetProblem(): string | undefined {
    return fdBudgetProblem(this.servicesAtStart());
  }

  private servicesAtStart(): number {
    return (this.initialServices ??= countServices(this.scandir));
  }

  /**
   * Found by the service's cgroup (the same leaf, named after the service,
   * under the scan directory's cgroup), and by the service's marker in
   * /proc/PID/environ, which every process of a shared host's service
   * starts with; only if nobody holds the service's lock: a live host's
   * processes are never touched. /proc is read once, at the first call;
   * each pid is checked again when used.
   */
  leftovers(svc: SupervisedService, dir: string): Leftovers | undefined {
    this.previous ??= processesByMarker();
    const marked = this.previous.get(svc.key) ?? [];
    this.previous.delete(svc.key);
    const leaf = this.cgroups?.leaf(svc.key);
    const inLeaf = leaf?.members() ?? [];
    if ((marked.length === 0 && inLeaf.length === 0) || supervisedNow(dir)) return undefined;
    const byMarker = () => marked.filter((pid) => markerOf(pid) === svc.key && procStat(pid)?.ppid !== process.pid);
    const members = () => [...new Set([...(leaf?.members() ?? []), ...byMarker()])];
    const pids = members();
    if (pids.length === 0) return undefined;
    // The leaf speaks for them all only if every process found by marker is in it too.
    const whole = leaf && marked.every((pid) => inLeaf.includes(pid)) ? leaf : undefined;
    return { pids, members, watch: whole && ((fn) => whole.onEvents(fn)), killAll: whole && (() => whole.killAll()) };
  }

  launch(svc: SupervisedService): SupervisorHandle {
    this.fdLimit.hosting(++this.hosted);
    const hosted: HostedSupervisor = this.host.supervise({ ...svc, base: this.scandir });
    return {
      signal: (sig) => hosted.signal(sig),
      kill: () => {}, // it is us: killNow takes its service's processes
      onEnd: (fn) => hosted.onExit((code, reported) => {
        this.hosted--;
        fn({ kind: 'exit', code, signal: null, reported });
      }),
    };
  }

  close(): void {
    this.cgroups?.close();
    try {
      writeOrphans(this.scandir, []);
    } catch {
      // a record that cannot go names only processes a reader finds dead
    }
  }
}

/** True if a supervisor holds `dir`'s supervise/lock (as s6-svok tells). */
export function supervisedNow(dir: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(dir, 'supervise', 'lock'), constants.O_RDONLY);
  } catch {
    return false;
  }
  try {
    return isLocked(fd);
  } finally {
    closeSync(fd);
  }
}
