// The scanner: one supervisor per service directory found in SCANDIR, each
// logger joined to its service by a pipe we hold, dead supervisors restarted,
// orphans reaped, and an orderly shutdown. Everything here is driven by
// events: control bytes, signals, supervisor exits, directory changes.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import nodeWatch from 'node-watch';
import { dup2 } from '../os/native';
import { reaper } from '../os/reaper';
import { procStat } from '../os/proc';
import { killQuietly, separateGroupOf } from '../os/signal';
import { systemClock, type Clock, type TimerHandle } from '../supervise/clock';
import { ProcessStop } from '../supervise/stop';
import { markerOf } from '../supervise/attribution';
import { atStartedFdLimit, serviceEnvObject } from '../supervise/spawn';
import { ServiceDir } from '../servicedir/servicedir';
import { readStatus } from '../wire/status';
import { signalName } from '../wire/signals';
import { ControlDir } from './controldir';
import { StartupReadiness } from './readiness';
import { CATCH_ALL_LOGGER, LogPipe, Service } from './service';
import type { ControllingTerminal } from './terminal';
import { killNow } from './kill';
import { RestartCounter } from './restarts';
import { supervisedNow, type SupervisorEnd, type SupervisorHandle, type SupervisorLauncher } from './handle';
import { errnoOf, errnoText } from '../base/errno';

export interface ScannerOptions {
  /** Absolute path of the scan directory. */
  scandir: string;
  /** Periodic rescan interval in ms; 0 for none. */
  rescanMs: number;
  /** The most services (loggers included) supervised at once. */
  maxServices: number;
  /** Rescan when an entry is added to or removed from the scan directory. */
  watch: boolean;
  /** Runs each service's supervisor: as a process, or inside this one (shared mode). */
  launcher: SupervisorLauncher;
  /** Called once when every service present at start-up has a listening supervisor. */
  onStartupReady?: () => void;
  /**
   * How long a service gets to stop at shutdown before the scanner kills it
   * (svscan -K); a service's own timeout-kill replaces it. A logger's time
   * counts from the end of its service's supervisor.
   */
  graceMs: number;
  /** The terminal the scanner was started from: its hangup stops the tree. */
  terminal?: ControllingTerminal | null;
  /** Timers and the monotonic clock (tests give a fake one). */
  clock?: Clock;
  warn: (message: string) => void;
}

/** A supervisor is respawned no sooner than this after its previous spawn. */
const RESPAWN_MS = 1000;
/** How often a lock held by a supervisor we did not start is looked at. */
const LOCK_LOOK_MS = 1000;
/** After a failed spawn of the supervisor program, as s6-svscan does. */
const SPAWN_RETRY_MS = 10_000;
/** How long an orphaned service gets to die when its timeout-kill is unset. */
const ORPHAN_KILL_MS = 5000;
/** A scan that could not make a log pipe is retried after this, as s6-svscan does. */
const RESCAN_RETRY_MS = 3000;
/** Debounce of directory events for --watch. */
const WATCH_DELAY_MS = 5;
/**
 * A SIGINT this soon after the one that began the shutdown is the same
 * Ctrl-C: npm forwards each SIGINT to its script, which the terminal has
 * sent it already.
 */
const SAME_INTERRUPT_MS = 1000;

/** Signals whose built-in action a `.s6-svscan/SIG<NAME>` program replaces. */
const DIVERTIBLE: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPWR', 'SIGWINCH'];
const BUILTIN_ACTION: Partial<Record<NodeJS.Signals, string>> = { SIGHUP: 'h', SIGINT: 't', SIGTERM: 't', SIGQUIT: 'q' };

type Stopping = 'no' | 'term' | 'quit' | 'abort';

export class Scanner {
  private readonly services = new Map<string, Service>();
  private control: ControlDir | null = null;
  private stopping: Stopping = 'no';
  private watcher: ReturnType<typeof nodeWatch> | null = null;
  private rescanTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private readonly clock: Clock;
  /** When the shutdown began (monotonic ms), for a second Ctrl-C. */
  private stoppingSince = 0;
  private readiness: StartupReadiness | null = null;
  private trackReadiness = true;
  /** Left-behind processes being stopped at shutdown, and every pid ever signalled so. */
  private leftBehind: ProcessStop | null = null;
  private readonly strayRounds = new Set<number>();
  /** Top-level entries the last scan could not stat. */
  private failing = new Set<string>();
  private ending = false;
  private endedResolve!: () => void;
  /** Resolves once every supervisor is gone after a shutdown (at once on an abort). */
  readonly ended = new Promise<void>((res) => {
    this.endedResolve = res;
  });

  constructor(private readonly opts: ScannerOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Takes the lock, opens the control FIFO, then scans and starts supervisors. */
  start(): void {
    this.control = ControlDir.open(this.opts.scandir);
    reaper.start({ subreaper: true });
    // Orphans are reaped by the reaper itself; in shared mode, supervisors hear of them.
    reaper.onOrphan(() => {});
    this.opts.launcher.start?.();
    this.installSignals();
    this.control.onCommand((byte) => this.command(byte));
    if (this.opts.onStartupReady) this.readiness = new StartupReadiness(this.opts.onStartupReady, this.opts.warn);
    this.scan();
    // Only the services present at start-up count for -d.
    this.readiness?.seal();
    this.trackReadiness = false;
    if (this.opts.watch) this.startWatching();
    this.periodicRescan();
  }

  /** -t: a scan every rescanMs, for as long as the scanner runs. */
  private periodicRescan(): void {
    if (this.opts.rescanMs <= 0 || this.stopping !== 'no') return;
    this.rescanTimer = this.clock.after(this.opts.rescanMs, () => {
      this.rescanTimer = null;
      this.scan();
      this.periodicRescan();
    });
  }

  /** One control byte, from svscanctl or from a signal's built-in action. */
  command(byte: string): void {
    switch (byte) {
      case 'z': reaper.reap(); break;
      case 'a': this.scan(); break;
      case 'b': this.abort(); break;
      case 'h': this.scan(); this.stopInactive(false); break;
      case 't': case 'i': this.shutdown('term'); break;
      case 'q': this.shutdown('quit'); break;
      case 'n': this.stopInactive(false); break;
      case 'N': this.stopInactive(true); break;
      default: this.opts.warn(`unknown control command: ${JSON.stringify(byte)}`);
    }
  }

  private installSignals(): void {
    process.on('SIGALRM', () => this.command('a'));
    process.on('SIGABRT', () => this.command('b'));
    for (const sig of DIVERTIBLE) process.on(sig, () => this.signal(sig));
  }

  /** A divertible signal: a hangup, a second Ctrl-C, `.s6-svscan/SIG<NAME>`, or the built-in action. */
  signal(sig: NodeJS.Signals): void {
    if (sig === 'SIGHUP' && this.opts.terminal?.hungUp()) return this.hangup();
    if (sig === 'SIGINT' && this.secondInterrupt()) return this.killAll('a second interrupt');
    if (this.divert(sig)) return;
    const action = BUILTIN_ACTION[sig];
    if (action) this.command(action);
  }

  /** The terminal went away: let go of it, and stop the tree in order. */
  private hangup(): void {
    this.opts.terminal?.release();
    this.opts.warn('the terminal hung up: stopping every service');
    this.shutdown('term');
  }

  private secondInterrupt(): boolean {
    return (this.stopping === 'term' || this.stopping === 'quit') && this.clock.monoMs() - this.stoppingSince >= SAME_INTERRUPT_MS;
  }

  /** Runs `.s6-svscan/SIG<NAME>` instead of the built-in action, if it is executable. */
  private divert(sig: NodeJS.Signals): boolean {
    const program = this.control?.program(sig);
    if (!program) return false;
    // At the limit we were started with, as s6-svscan's programs.
    const [cmd, ...args] = atStartedFdLimit([program]);
    const child = reaper.leaveToLibuv(spawn(cmd, args, { cwd: this.opts.scandir, stdio: 'inherit', env: serviceEnvObject() }));
    child.once('error', (err) => this.opts.warn(`unable to spawn ${program}: ${err.message}`));
    return true;
  }

  // ---- scanning ----

  /** Reads the scan directory: new services get a supervisor, missing ones become inactive. */
  scan(): void {
    if (this.stopping !== 'no') return;
    let names: string[];
    try {
      names = readdirSync(this.opts.scandir);
    } catch (err) {
      this.opts.warn(`unable to read ${this.opts.scandir}: ${errnoText(err)}`);
      return;
    }
    const seen = new Set<string>();
    const failing = new Set<string>();
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const st = this.statEntry(name, failing);
      if (!st?.isDirectory()) continue;
      const producer = this.found(name, st, false, seen);
      const logSt = this.statEntry(join(name, 'log'));
      if (producer && logSt?.isDirectory()) {
        const logger = this.found(join(name, 'log'), logSt, true, seen);
        const paired = logger && this.pair(producer, logger);
        if (logger && paired === 'waiting') {
          // Not started beside the old logger: found again once that one is gone.
          this.services.delete(logger.key);
        } else if (logger && !paired) {
          // No pipe (fds exhausted?): neither side starts without it; the next scan tries again.
          for (const svc of [producer, logger]) {
            if (svc.busy) continue;
            svc.clearRestart();
            this.services.delete(svc.key);
          }
          this.rescanSoon();
        }
      }
    }
    for (const svc of [...this.services.values()]) {
      if (!seen.has(svc.key)) this.deactivate(svc);
    }
    // An entry that cannot be stat'ed now (a link into a file system mounted
    // later) is tried again, as s6-svscan does, and reported once.
    this.failing = failing;
    if (failing.size > 0) this.rescanSoon();
    for (const svc of this.services.values()) {
      if (svc.active && !svc.busy && !svc.restartTimer) {
        if (this.trackReadiness) this.readiness?.track(svc.key, this.dirOf(svc));
        this.startSupervisor(svc);
      }
    }
  }

  /**
   * stat() that follows symlinks. With `failing`, a top-level entry's
   * failure (a dangling link) is recorded there and reported unless the last
   * scan already did; a missing `log` is no failure.
   */
  private statEntry(name: string, failing?: Set<string>): Stats | null {
    try {
      return statSync(join(this.opts.scandir, name));
    } catch (err) {
      const code = errnoOf(err);
      if (!failing && code === 'ENOENT') return null;
      failing?.add(name);
      if (!this.failing.has(name)) this.opts.warn(`unable to stat ${name}: ${code ?? err}; skipping it${failing ? `, trying again in ${RESCAN_RETRY_MS / 1000} s` : ''}`);
      return null;
    }
  }

  /** The service with this (dev, ino), created if new; renames keep the same service. */
  private found(name: string, st: Stats, isLogger: boolean, seen: Set<string>): Service | null {
    const key = `${st.dev}:${st.ino}`;
    seen.add(key);
    let svc = this.services.get(key);
    if (!svc) {
      if (this.services.size >= this.opts.maxServices) {
        this.opts.warn(`too many services (-C ${this.opts.maxServices}): not supervising ${name}`);
        return null;
      }
      svc = new Service(key, name, isLogger);
      this.services.set(key, svc);
    }
    svc.name = name;
    svc.active = true;
    return svc;
  }

  /**
   * Joins a service and its logger by a pipe; false if no pipe could be made.
   * A replaced log directory waits ('waiting') while the old logger's
   * supervisor runs: two loggers reading one pipe would split its lines.
   */
  private pair(producer: Service, logger: Service): boolean | 'waiting' {
    if (producer.peer === logger) return true;
    const old = producer.peer;
    if (old && old.busy && this.known(old)) {
      if (!producer.loggerWaiting) this.opts.warn(`${logger.name}: a new logger directory; it starts once the old logger's supervisor has exited (svscanctl -n)`);
      producer.loggerWaiting = true;
      return 'waiting';
    }
    const hadPipe = producer.logPipe !== null;
    let logPipe: LogPipe;
    try {
      logPipe = producer.logPipe ?? logger.logPipe ?? new LogPipe();
    } catch (err) {
      this.opts.warn(`unable to make a pipe for ${logger.name}: ${errnoText(err)}; retrying in ${RESCAN_RETRY_MS / 1000} s`);
      return false;
    }
    producer.peer = logger;
    logger.peer = producer;
    producer.logPipe = logPipe;
    logger.logPipe = logPipe;
    if (producer.running && !hadPipe) {
      this.opts.warn(`${producer.name}: new logger; its output goes to it from the next start of its supervisor`);
    }
    return true;
  }

  private rescanSoon(): void {
    if (this.retryTimer) return;
    this.retryTimer = this.clock.after(RESCAN_RETRY_MS, () => {
      this.retryTimer = null;
      this.scan();
    });
  }

  private deactivate(svc: Service): void {
    svc.active = false;
    svc.clearRestart();
    if (!svc.busy) this.forget(svc);
  }

  private forget(svc: Service): void {
    this.services.delete(svc.key);
    svc.restarts?.close();
    const peer = svc.peer;
    if (peer && this.known(peer) && peer.active) {
      // The old logger of a service that stays is gone: start the one that waited.
      if (svc.isLogger && peer.loggerWaiting) {
        peer.loggerWaiting = false;
        setImmediate(() => this.scan());
      }
      return;
    }
    // The pipe goes once its other side is gone or leaving too: a logger
    // told to drain sees EOF only when no write end is left, ours included.
    svc.logPipe?.close();
    for (const side of [svc, peer]) {
      if (!side) continue;
      side.logPipe = null;
      side.peer = null;
    }
  }

  /** Still this scanner's (not forgotten, nor replaced by a new directory with its name). */
  private known(svc: Service): boolean {
    return this.services.get(svc.key) === svc;
  }

  private dirOf(svc: Service): string {
    return join(this.opts.scandir, svc.name);
  }

  // ---- supervisors ----

  private startSupervisor(svc: Service): void {
    if (this.stopping !== 'no' || svc.busy || !svc.active) return;
    svc.clearRestart();
    const wait = svc.lastStart === null ? 0 : svc.lastStart + RESPAWN_MS - this.clock.monoMs();
    if (wait > 0) return this.retryLater(svc, wait);
    if (this.stopOrphan(svc) || this.stopLeftovers(svc)) return;
    if (this.awaitLock(svc)) return;
    this.spawnSupervisor(svc);
  }

  /**
   * A supervisor we did not start holds the service's lock (a previous
   * scanner's, still running): a new one would only exit 100. Look at the
   * lock again every second, which costs one fcntl, and start one as soon as
   * it is free. Returns true while waiting.
   */
  private awaitLock(svc: Service): boolean {
    if (!supervisedNow(this.dirOf(svc))) {
      if (svc.lockWaiting) this.opts.warn(`${svc.name}: its supervisor is gone; starting a new one`);
      svc.lockWaiting = false;
      return false;
    }
    if (!svc.lockWaiting) this.opts.warn(`${svc.name}: already supervised (supervise/lock is held); starting a supervisor once it is released`);
    svc.lockWaiting = true;
    this.retryLater(svc, LOCK_LOOK_MS);
    return true;
  }

  private retryLater(svc: Service, ms: number): void {
    svc.restartTimer = this.clock.after(ms, () => {
      svc.restartTimer = null;
      this.startSupervisor(svc);
    });
  }

  private spawnSupervisor(svc: Service): void {
    svc.lastStart = this.clock.monoMs();
    if (!svc.counting) {
      svc.counting = true;
      svc.restarts = RestartCounter.open(() => this.dirOf(svc), this.opts.warn, this.clock, { listen: !this.opts.launcher.hearsEvents });
    }
    let handle: SupervisorHandle;
    try {
      handle = this.opts.launcher.launch({
        name: svc.name,
        key: svc.key,
        stdin: svc.isLogger ? svc.logPipe?.read ?? null : null,
        stdout: !svc.isLogger ? svc.logPipe?.write ?? null : null,
        announced: (events) => svc.restarts?.heard(events),
      });
    } catch (err) {
      this.spawnFailed(svc, err as Error);
      return;
    }
    svc.supervisor = handle;
    handle.onEnd((end) => this.supervisorEnded(svc, handle, end));
  }

  private spawnFailed(svc: Service, err: Error): void {
    this.opts.warn(`unable to spawn a supervisor for ${svc.name}: ${err.message}; retrying in ${SPAWN_RETRY_MS / 1000} s`);
    if (this.stopping !== 'no') return this.checkDone();
    this.retryLater(svc, SPAWN_RETRY_MS);
  }

  private supervisorEnded(svc: Service, handle: SupervisorHandle, end: SupervisorEnd): void {
    if (svc.supervisor !== handle) return;
    svc.supervisor = null;
    svc.clearGrace();
    if (end.kind === 'error') return this.spawnFailed(svc, end.error);
    if (this.stopping !== 'no') {
      // Its logger can drain now: its time to stop starts here.
      if (svc.peer?.isLogger && this.known(svc.peer)) this.startGrace(svc.peer);
      return this.checkDone();
    }
    if (!svc.active) return this.forget(svc);
    if (end.code !== 0 && !end.reported) this.opts.warn(`supervisor for ${svc.name} ${end.signal ? `killed by ${end.signal}` : `exited ${end.code}`}; restarting it`);
    this.startSupervisor(svc);
  }

  /**
   * A supervisor killed by SIGKILL leaves its service running, re-parented to
   * us (we are a subreaper or pid 1). Before a new supervisor starts one more
   * instance, bring that one down: down-signal and SIGCONT, SIGKILL after
   * timeout-kill, and wait until the reaper has reaped it. Returns true if it
   * is doing so; the supervisor is started when the orphan is gone.
   */
  private stopOrphan(svc: Service): boolean {
    const dir = this.dirOf(svc);
    const pids = this.orphansOf(svc, dir);
    if (pids.length === 0) return false;
    const config = new ServiceDir(dir, (m) => this.opts.warn(`${svc.name}: ${m}`));
    const downSignal = config.downSignal();
    const killMs = config.timeoutKill() || ORPHAN_KILL_MS;
    this.opts.warn(`${svc.name}: its supervisor died; stopping pid ${pids.join(', pid ')}, which it left running, with ${signalName(downSignal)} before starting a new supervisor`);
    // Their process groups too (run starts a session): a background child left
    // holding the log pipe would keep the logger, and a shutdown, waiting.
    const groups = new Set(pids.map(separateGroupOf).filter((g): g is number => g !== null));
    const live = new Set(pids);
    const stop = new ProcessStop({
      members: () => [...live],
      groups: [...groups],
      downSignal,
      timeoutKill: killMs,
      clock: this.clock,
      onGone: () => this.orphanGone(svc, pids[0]),
    });
    svc.orphanStop = { pid: pids[0], stop };
    for (const pid of pids) {
      reaper.watch(pid, () => {
        live.delete(pid);
        stop.recheck();
      });
    }
    stop.begin();
    reaper.reap(); // some may be zombies already, whose SIGCHLD came before the watch
    return true;
  }

  /**
   * The live processes a dead supervisor of `svc` left to us: our adopted
   * children (an unreaped child's pid cannot have been reused) that carry the
   * service's marker, which its supervisor was started with. The status
   * file's pid counts too, if it is one of them, for a supervisor that
   * scrubbed its environment; but never alone: a status write may have
   * failed, leaving it naming an instance that is long gone.
   */
  private orphansOf(svc: Service, dir: string): number[] {
    const adopted = reaper.adoptedChildren().filter((pid) => {
      const st = procStat(pid);
      return st !== null && st.ppid === process.pid && st.state !== 'Z' && st.state !== 'X';
    });
    if (adopted.length === 0) return [];
    const found = new Set(adopted.filter((pid) => markerOf(pid) === svc.key));
    try {
      const pid = readStatus(dir).pid;
      if (pid > 0 && adopted.includes(pid) && markerOf(pid) === undefined) found.add(pid);
    } catch {
      // no status, or unreadable: the markers decide
    }
    return [...found];
  }

  /**
   * Shared mode, after the previous host was killed: its instance of the
   * service still runs, and is nobody's child here. It gets the down-signal
   * and SIGCONT (its process groups too), SIGKILL after timeout-kill, and the
   * new supervisor starts once none of it is left. Not our children, so
   * their deaths are watched on /proc, during this stop only.
   */
  private stopLeftovers(svc: Service): boolean {
    const dir = this.dirOf(svc);
    const left = this.opts.launcher.leftovers?.({ name: svc.name, key: svc.key, stdin: null, stdout: null }, dir);
    if (!left) return false;
    const { pids } = left;
    const config = new ServiceDir(dir, (m) => this.opts.warn(`${svc.name}: ${m}`));
    const downSignal = config.downSignal();
    const killMs = config.timeoutKill() || ORPHAN_KILL_MS;
    this.opts.warn(`${svc.name}: its previous host died; stopping its processes ${pids.join(' ')} with ${signalName(downSignal)} before starting it again`);
    const groups = new Set(pids.map(separateGroupOf).filter((g): g is number => g !== null));
    const pid = pids[0];
    let unwatch = () => {};
    const stop = new ProcessStop({
      members: () => left.members(),
      killAll: left.killAll && (() => left.killAll!()),
      groups: [...groups],
      downSignal,
      timeoutKill: killMs,
      clock: this.clock,
      onGone: () => {
        unwatch();
        this.orphanGone(svc, pid);
      },
    });
    svc.orphanStop = { pid, stop };
    // A cgroup says when it empties (inotify); without one, /proc is looked at.
    if (left.watch) unwatch = left.watch(() => stop.recheck());
    stop.begin();
    if (left.watch) return true;
    const look = (delay: number) => {
      if (svc.orphanStop?.stop !== stop) return;
      stop.recheck();
      if (stop.active) this.clock.after(delay, () => look(Math.min(delay * 2, 100)));
    };
    look(5);
    return true;
  }

  private orphanGone(svc: Service, pid: number): void {
    if (svc.orphanStop?.pid !== pid) return;
    svc.orphanStop.stop.abandon();
    svc.orphanStop = null;
    if (this.stopping !== 'no') return this.checkDone();
    if (!svc.active) return this.forget(svc);
    this.startSupervisor(svc);
  }

  /** -n, -N, -h, SIGHUP: stop the supervisors of services that left the tree. */
  private stopInactive(termLoggers: boolean): void {
    for (const svc of this.services.values()) {
      if (!svc.active && svc.supervisor) this.signalSupervisor(svc, this.drains(svc) && !termLoggers ? 'SIGHUP' : 'SIGTERM');
    }
  }

  /**
   * Whether an inactive service's supervisor gets SIGHUP, to read its input
   * to the end, rather than SIGTERM. A logger whose service stays cannot
   * drain a pipe that is still written to; what it leaves unread stays in
   * the pipe, which we hold, for the logger that follows it.
   */
  private drains(svc: Service): boolean {
    if (!svc.drainsAtShutdown) return false;
    const producer = svc.isLogger ? svc.peer : null;
    return !(producer && producer.active && this.known(producer));
  }

  private signalSupervisor(svc: Service, sig: 'SIGTERM' | 'SIGHUP'): void {
    svc.supervisor?.signal(sig);
  }

  // ---- shutdown ----

  /**
   * Services' supervisors get SIGTERM (the service is stopped, then the
   * supervisor exits); loggers' get SIGHUP (they exit once their logger has
   * read everything to EOF) unless `quit`. Then wait for all of them.
   */
  shutdown(mode: 'term' | 'quit'): void {
    if (this.stopping === 'term' && mode === 'quit') {
      this.stopping = 'quit';
      for (const svc of this.services.values()) if (svc.drainsAtShutdown) this.signalSupervisor(svc, 'SIGTERM');
      return;
    }
    if (this.stopping !== 'no') return;
    this.stopping = mode;
    this.stoppingSince = this.clock.monoMs();
    this.stopTriggers();
    for (const svc of this.services.values()) {
      this.signalSupervisor(svc, svc.drainsAtShutdown && mode === 'term' ? 'SIGHUP' : 'SIGTERM');
    }
    for (const svc of this.services.values()) {
      // A logger drains what its service writes until that one is gone: its time starts then.
      const producer = svc.isLogger ? svc.peer : null;
      if (!(producer?.supervisor && this.known(producer))) this.startGrace(svc);
    }
    // Our copies of the log pipes must go, or the loggers never see EOF.
    for (const svc of this.services.values()) svc.logPipe?.close();
    // So must our own output, if the catch-all logger reads it (as in s6).
    if ([...this.services.values()].some((svc) => svc.name === CATCH_ALL_LOGGER)) silenceOwnOutput(this.opts.warn);
    this.checkDone();
  }

  /**
   * A service gets its timeout-kill, or -K, to stop; then the scanner kills
   * it (not its supervisor, which records the death and runs finish) and
   * says which one it waited for.
   */
  private startGrace(svc: Service): void {
    if (!svc.supervisor || svc.graceTimer) return;
    const own = new ServiceDir(this.dirOf(svc), () => {}).timeoutKill();
    const ms = own > 0 ? own : this.opts.graceMs;
    svc.graceTimer = this.clock.after(ms, () => {
      if (!svc.supervisor) return;
      const pids = killNow([svc.key], svc.supervisor.pid);
      this.opts.warn(`${svc.name} did not stop within ${ms} ms (${own > 0 ? 'its timeout-kill' : 'svscan -K'}): ${pids.length > 0 ? `killed pid ${pids.join(', pid ')}` : 'waiting for its supervisor'}`);
    });
  }

  /**
   * A second Ctrl-C: SIGKILL to every supervisor, service and logger left,
   * and whatever they left behind, then leave without waiting.
   */
  private killAll(why: string): void {
    const left = [...this.services.values()].filter((svc) => svc.busy);
    this.opts.warn(`${why}: killing ${left.length > 0 ? left.map((svc) => svc.name).join(', ') : 'what is left'} and exiting`);
    for (const svc of left) svc.supervisor?.kill();
    killNow([...this.services.keys()]);
    for (const pid of reaper.adoptedChildren()) killQuietly(pid, 'SIGKILL');
    this.abort();
  }

  /** `b`, SIGABRT: leave at once, killing nothing and waiting for nothing. */
  private abort(): void {
    if (this.stopping === 'abort') return;
    this.stopping = 'abort';
    this.stopTriggers();
    this.end();
  }

  private stopTriggers(): void {
    this.watcher?.close();
    this.watcher = null;
    this.rescanTimer?.cancel();
    this.rescanTimer = null;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    this.readiness?.close();
    for (const svc of this.services.values()) svc.clearRestart();
  }

  private checkDone(): void {
    if (this.stopping === 'no') return;
    for (const svc of this.services.values()) if (svc.busy) return;
    if (this.stopping !== 'abort' && this.stopStrays()) return;
    this.end();
  }

  /**
   * Once the last supervisor is gone, whatever the services left behind and
   * the kernel re-parented to us (we are a subreaper, or pid 1) gets SIGTERM
   * and SIGCONT, then SIGKILL after 5 s, so no daemon outlives the scanner.
   * Returns true while some remain; each round also takes in processes
   * re-parented during the previous one.
   */
  private stopStrays(): boolean {
    if (this.leftBehind?.active) return true;
    const pids = reaper.adoptedChildren().filter((pid) => !this.strayRounds.has(pid));
    if (pids.length === 0) return false;
    this.opts.warn(`stopping ${pids.length} process(es) left behind by services: ${pids.join(' ')}`);
    const live = new Set(pids);
    const stop = new ProcessStop({
      members: () => [...live],
      downSignal: 15, // SIGTERM
      timeoutKill: ORPHAN_KILL_MS,
      clock: this.clock,
      onGone: () => this.checkDone(),
    });
    this.leftBehind = stop;
    for (const pid of pids) {
      this.strayRounds.add(pid);
      reaper.watch(pid, () => {
        live.delete(pid);
        stop.recheck();
      });
    }
    stop.begin();
    reaper.reap(); // some may be zombies already
    return stop.active;
  }

  private end(): void {
    if (this.ending) return;
    this.ending = true;
    this.leftBehind?.abandon();
    for (const svc of this.services.values()) {
      svc.clearGrace();
      svc.restarts?.close();
    }
    this.opts.launcher.close?.();
    this.control?.close();
    this.endedResolve();
  }

  /** `.s6-svscan/NAME` if executable (finish, crash). */
  program(name: string): string | undefined {
    return this.control?.program(name);
  }

  // ---- --watch ----

  private startWatching(): void {
    const w = nodeWatch(this.opts.scandir, {
      recursive: false,
      delay: WATCH_DELAY_MS,
      filter: (path: string) => !basenameOf(path).startsWith('.'),
    });
    // As svscanctl -an (-h): the README promises removed directories are picked up at once.
    w.on('change', () => this.command('h'));
    w.on('error', (err: Error) => this.opts.warn(`watching ${this.opts.scandir}: ${err.message}; rescans need svscanctl -a from now on`));
    this.watcher = w;
  }
}

function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Points our stdout and stderr at /dev/null. */
function silenceOwnOutput(warn: (message: string) => void): void {
  try {
    const fd = openSync('/dev/null', 'w');
    dup2(fd, 1);
    dup2(fd, 2);
    closeSync(fd);
  } catch (err) {
    warn(`unable to point stdout and stderr at /dev/null: ${errnoText(err)}`);
  }
}
