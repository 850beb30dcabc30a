// One supervised service directory: s6-supervise's state machine. It owns the
// directory's supervise/ and event/ and the service's processes, and holds no
// process-wide state: signals, reaping and stdio belong to the host, which
// calls in here (onSignal) and is called back (hooks).
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { pipe, tryLockWrite } from '../os/native';
import { ServiceDir } from '../servicedir/servicedir';
import { deathFromWstat } from '../wire/deathtally';
import { cleanFifodir } from '../wire/fifodir';
import { GROUP_SIGNAL_COMMANDS, SIGNAL_COMMANDS, SUPERVISE_COMMANDS } from '../wire/control';
import { parseSignal, wstatExitCode, wstatSignaled, wstatTermsig } from '../wire/signals';
import { Deadline, systemClock, type Clock } from './clock';
import { ControlFifo, lockSuperviseDir, makeEventDir, makeSuperviseDir } from './controldir';
import { PidfileMain, removeStalePidFile } from './adoption';
import { FollowedMain, type MainProcess } from './mainprocess';
import { strayCleanup } from './strays';
import { Instance } from './instance';
import type { ProcessStop } from './stop';
import { spawnInSession, type ServiceIo, type SpawnExtras } from './spawn';
import { RestartThrottle } from './throttle';
import { ServiceRecord } from './record';
import { ServiceNotify } from './notify';
import { errnoText as errCode } from '../base/errno';
import { EXIT_SYSTEM, Failure } from '../base/exit';

export type State = 'DOWN' | 'UP' | 'FINISH' | 'LASTUP' | 'LASTFINISH';

/** The process-wide signals a supervisor reacts to. */
export type HostSignal = 'SIGTERM' | 'SIGHUP' | 'SIGQUIT' | 'SIGINT';

export interface SupervisorHooks {
  /** One line, already naming the service; the host adds the program prefix. */
  warn(message: string): void;
  /** Point fds 0 and 1 at /dev/null, so a logger downstream sees EOF. */
  closeStdio(): void;
  /** The supervisor has sent `x` and released everything. */
  exited(sup: Supervisor): void;
  /** Live orphans of this supervisor's services that landed on the process (subreaper). */
  adoptedChildren(): number[];
  /** Every child of the process, ours or libuv's: a cheap emptiness check before a scan. */
  children(): number[];
  /**
   * Where stray cleanup looks: a host of many services gives this service's
   * orphans, so that a stop costs what this service has, not what the
   * whole process has. By default, every descendant of the process.
   */
  strayRoots?(): number[];
  /**
   * Runs one call into this supervisor (a control byte, a timer, a death):
   * a host of many catches a throw here and brings only this service down.
   * Without it, a throw ends the process, as in per-process mode.
   */
  guard?(fn: () => void): void;
  /** fds 0-2 for run and finish; ours when absent. */
  stdio?(): ReadonlyMap<number, number>;
  /** The environment run and finish get, as `NAME=value` strings; ours when absent. */
  environment?(): readonly string[];
  /**
   * Every event this supervisor sends on event/, once its listeners have it:
   * a host in the same process (the shared scanner, counting restarts) hears
   * them without a FIFO of its own in the fifodir.
   */
  announced?(events: string): void;
}

/** How run and finish are started: spawnInSession's shape, injectable for state-machine tests. */
export type Spawner = (
  cwd: string, file: string, args: readonly string[], extra: ReadonlyMap<number, number>, io: ServiceIo, onFailure: (reason: string) => void,
  extras?: SpawnExtras,
) => MainProcess | undefined;

export interface SupervisorOptions {
  clock?: Clock;
  spawn?: Spawner;
  /** What a relative service directory is taken from; the process's cwd by default. */
  base?: string;
}

/** After a failed spawn, retry this late, unless the directory changes or `u` comes first. s6 waits 60 s. */
export const SPAWN_RETRY_MS = 10_000;
/** While a dying service ignores SIGKILL (stopped, D state), repeat it this often, as s6 does. */
const KILL_REPEAT_MS = 5000;
/** Coalesces a burst of changes in the service directory into one retry. */
const FIX_DEBOUNCE_MS = 20;
/** Strays get this long between the down-signal and SIGKILL when timeout-kill is unset. */
const STRAY_TIMEOUT_KILL_MS = 5000;
/** finish exiting with this code means "permanent failure": wantup is cleared. */
const PERMANENT_FAILURE = 125;

const SIGCONT = 18;
const SIGKILL = 9;
const SIGSTOP = 19;
const SIGINT = 2;
/** Linux's O_PATH (the generic value: x86, arm, riscv...), which Node's fs.constants lacks. */
const O_PATH = 0o10000000;

export class Supervisor {
  /** Absolute path of the service directory as given, for messages. */
  readonly dir: string;
  /**
   * The path every file operation goes through: our open fd of the directory,
   * seen through /proc. Like s6-supervise's chdir, it follows the directory if
   * it is renamed or moved (a scanner keeps a renamed service's supervisor),
   * and unlike chdir it lets one process host several supervisors.
   */
  private readonly root: string;
  /**
   * O_PATH: only a name to resolve through. Every spawn's exec closes a copy
   * of each of our fds, and the kernel's close of an ordinary directory fd
   * looks for dnotify marks and POSIX locks first; an O_PATH one skips both.
   * With one such fd per hosted service (shared mode), that was a tenth of
   * a 1000-service cold start in `perf` (dnotify_flush).
   */
  private dirFd: number;
  private readonly files: ServiceDir;
  private readonly eventDir: string;
  private readonly superviseDir: string;
  private readonly timer: Deadline;
  private readonly throttle = new RestartThrottle();
  private readonly record: ServiceRecord;
  private state: State = 'DOWN';
  /** The current run of the service, from its spawn until the next one. */
  private current: Instance | undefined;
  private finish: MainProcess | undefined;
  private control: ControlFifo | undefined;
  private lockFd = -1;
  private fixWatch: FSWatcher | undefined;
  private done = false;
  private strays: ProcessStop | undefined;
  private startDeferred: false | 'once' | 'wantup' = false;
  /** tether's extensions: NOTIFY_SOCKET, the watchdog, health checks (supervise/notify.ts). */
  private readonly notify: ServiceNotify;

  /**
   * `dirArg` is the directory exactly as given: run and finish get it as
   * their argument, as under s6 (under a scanner it is the service's name).
   */
  private readonly clock: Clock;
  private readonly spawn: Spawner;

  constructor(
    readonly dirArg: string,
    private readonly hooks: SupervisorHooks,
    opts: SupervisorOptions = {},
  ) {
    const clock = opts.clock ?? systemClock;
    this.spawn = opts.spawn ?? spawnInSession;
    // Timers are calls into us like any other: through the host's guard.
    this.clock = { wall: () => clock.wall(), monoMs: () => clock.monoMs(), after: (ms, fn) => clock.after(ms, () => this.guarded(fn)) };
    this.dir = resolve(opts.base ?? '.', dirArg);
    try {
      this.dirFd = openSync(this.dir, O_PATH | constants.O_DIRECTORY);
    } catch (err) {
      throw new Failure(`unable to use service directory ${this.dirArg}: ${errCode(err)}`, EXIT_SYSTEM);
    }
    this.root = `/proc/self/fd/${this.dirFd}`;
    this.files = new ServiceDir(this.root, (m) => this.warn(m));
    this.eventDir = join(this.root, 'event');
    this.superviseDir = join(this.root, 'supervise');
    this.record = new ServiceRecord(this.root, (m) => this.warn(m), this.clock, (events) => this.hooks.announced?.(events));
    this.timer = new Deadline(this.clock);
    this.notify = new ServiceNotify({
      files: this.files, root: this.root, dir: this.dir, dirArg, clock: this.clock,
      warn: (m) => this.warn(m),
      io: () => this.io(),
      mainPid: () => this.main?.pid,
      finishPid: () => this.finish?.pid,
      // Datagrams and check results arrive from outside: each is an entry into the state machine.
      ready: () => this.guarded(() => {
        if (this.isUp() && this.current && !this.record.status.ready) this.becomeReady(this.current);
      }),
      takeDown: (sig) => this.guarded(() => {
        if (this.isUp()) this.downSequence(sig);
      }),
      extendTimeouts: (ms) => this.guarded(() => this.extendTimeouts(ms)),
      followMainPid: (pid) => this.guarded(() => {
        if (this.isUp()) this.current!.main!.follow(pid);
      }),
    });
  }

  /** One entry into the state machine from outside (an event, not a call from the host). */
  private guarded(fn: () => void): void {
    if (this.hooks.guard) this.hooks.guard(fn);
    else fn();
  }

  get currentState(): State {
    return this.state;
  }

  /** The process groups (and sessions) the current instance ran in: run's own, and a pidfile daemon's. */
  get processGroups(): readonly number[] {
    return this.current?.groups ?? [];
  }

  /** The pid of finish while it runs. */
  get finishPid(): number | undefined {
    return this.finish?.pid;
  }

  /** The pid of the service's main process (run, or what it handed over to) while there is one to signal. */
  get mainPid(): number | undefined {
    return this.main?.present ? this.main.pid : undefined;
  }

  /** The service's main process (run, or the process it handed over to) while there is one. */
  private get main(): FollowedMain | undefined {
    return this.current?.main;
  }

  /** The one staleness check of every callback of an instance: is it still the live, current one? */
  private isCurrent(run: Instance): boolean {
    return run === this.current && run.live && !this.done;
  }

  /**
   * s6's start-up order: event/, supervise/, the lock (so a second instance
   * stops here), the control FIFO, stale listeners, death_tally, status, and
   * only then the `s` event. Throws a Failure.
   */
  start(): void {
    let freshEventDir: boolean;
    try {
      freshEventDir = makeEventDir(this.eventDir);
      makeSuperviseDir(this.superviseDir);
      this.lockFd = lockSuperviseDir(join(this.superviseDir, 'lock'));
      this.control = ControlFifo.open(join(this.superviseDir, 'control'));
    } catch (err) {
      if (!(err instanceof Failure)) throw err;
      // Name the directory as given, not the /proc path we reach it through.
      throw new Failure(this.shown(err.message), err.exitCode);
    }
    this.control.onBytes((bytes) => {
      const known = commandsIn(bytes);
      if (known !== '') this.guarded(() => this.commands(known));
    });
    if (!freshEventDir) cleanFifodir(this.eventDir);
    this.record.resetDeaths();
    const now = this.clock.wall();
    this.record.status = {
      stamp: now, readystamp: now, pid: 0, wstat: 0,
      // paused with no pid is the newest s6's "not started yet" marker: in the first write only.
      paused: true, finishing: false, wantup: !this.files.wantsDown(), ready: true,
    };
    this.record.save();
    this.record.status.paused = false;
    this.record.event('s');
    this.timer.set(0, () => this.onDeadline());
  }

  // ---- control bytes ------------------------------------------------------

  /**
   * Applies every byte in order; unknown bytes are ignored, as s6 does. The
   * status is written once for the whole batch, and before any event it
   * sends: a reader woken by an event still finds the status that goes with
   * it, and a flood of `pc` costs one write, not one per byte.
   */
  commands(bytes: string): void {
    this.record.batch(() => {
      for (const byte of bytes) {
        if (this.done) return;
        this.command(byte);
      }
    });
  }

  private command(byte: string): void {
    const up = this.isUp();
    if (up && (byte === 'h' || byte === 'l')) this.notify.reloadRequested();
    const sig = SIGNAL_COMMANDS[byte];
    if (sig !== undefined && byte !== 'p' && byte !== 'c') {
      if (up) this.main!.kill(parseSignal(sig)!);
      return;
    }
    const groupSig = GROUP_SIGNAL_COMMANDS[byte];
    if (groupSig !== undefined) {
      if (!up) return;
      this.main!.killGroup(parseSignal(groupSig)!);
      if (byte !== 'K') this.setPaused(byte === 'P');
      return;
    }
    switch (byte) {
      case 'p':
      case 'c':
        if (!up) return;
        this.main!.kill(byte === 'p' ? SIGSTOP : SIGCONT);
        this.setPaused(byte === 'p');
        return;
      case 'l':
        if (up) this.main!.kill(this.files.reloadSignal());
        return;
      case 'r':
        if (up) this.main!.kill(this.files.downSignal());
        return;
      case 'o':
        this.setWantup(false);
        if (this.state === 'DOWN') this.trystart(true);
        return;
      case 'u':
        if (this.current) this.current.downRequested = false;
        this.setWantup(true);
        if (this.state === 'DOWN') this.trystart();
        return;
      case 'U':
        this.removeDownFile();
        this.command('u');
        return;
      case 'd':
        this.goDown();
        return;
      case 'D':
        this.createDownFile();
        this.goDown();
        return;
      case 'O':
        this.setWantup(false);
        return;
      case 'Q':
        this.createDownFile();
        this.setWantup(false);
        return;
      case 'x':
        this.hangup();
        return;
      default:
    }
  }

  /** run, or the daemon adopted from its pid file, is there to signal. */
  private isUp(): boolean {
    return (this.state === 'UP' || this.state === 'LASTUP') && this.main !== undefined;
  }

  private setPaused(paused: boolean): void {
    this.record.status.paused = paused;
    this.record.save();
  }

  private setWantup(wantup: boolean): void {
    this.record.status.wantup = wantup;
    this.record.save();
  }

  /** `d`: want down and, if run is up, the down sequence; one status write. */
  private goDown(): void {
    this.record.status.wantup = false;
    this.startDeferred = false;
    // The main process may still move (a pidfile parent that exits 0 after its down-signal, a
    // MAINPID=): the process it moves to goes down too.
    if (this.current?.live) this.current.downRequested = true;
    if (this.isUp()) this.downSequence();
    this.record.save();
  }

  /** down-signal and SIGCONT to the pid (never the group), and the kill timeout. */
  private downSequence(sig = this.files.downSignal()): void {
    const main = this.main!;
    main.kill(sig);
    main.kill(SIGCONT);
    this.record.status.paused = false;
    const timeoutKill = this.files.timeoutKill();
    if (timeoutKill > 0) this.timer.set(timeoutKill, () => this.onDeadline());
  }

  private createDownFile(): void {
    try {
      writeFileSync(join(this.root, 'down'), '', { flag: 'a' });
    } catch (err) {
      this.warn(`unable to create ${join(this.root, 'down')}: ${errCode(err)}`);
    }
  }

  private removeDownFile(): void {
    try {
      unlinkSync(join(this.root, 'down'));
    } catch (err) {
      if (errCode(err) !== 'ENOENT') this.warn(`unable to unlink ${join(this.root, 'down')}: ${errCode(err)}`);
    }
  }

  // ---- the supervisor's own signals (spec 4.6) ----------------------------

  onSignal(sig: HostSignal): void {
    if (this.done) return;
    switch (sig) {
      case 'SIGTERM':
        return this.terminate();
      case 'SIGHUP':
        return this.hangup();
      case 'SIGQUIT':
        return this.exit();
      case 'SIGINT':
        (this.main ?? this.finish)?.killGroup(SIGINT);
        return this.exit();
      default:
    }
  }

  /** SIGTERM: bring the service down, then exit. */
  private terminate(): void {
    switch (this.state) {
      case 'DOWN':
        return this.exit();
      case 'UP':
        this.state = 'LASTUP';
        return this.goDown();
      case 'LASTUP':
        return this.goDown();
      case 'FINISH':
        this.state = 'LASTFINISH';
        return this.hooks.closeStdio();
      default:
    }
  }

  /** SIGHUP and `x`: exit once the service is down, without bringing it down. */
  private hangup(): void {
    switch (this.state) {
      case 'DOWN':
        return this.exit();
      case 'UP':
        this.state = 'LASTUP';
        break;
      case 'FINISH':
        this.state = 'LASTFINISH';
        break;
      default:
    }
    this.hooks.closeStdio();
  }

  // ---- the deadline ------------------------------------------------------

  private onDeadline(): void {
    switch (this.state) {
      case 'DOWN':
        if (this.record.status.wantup) this.trystart();
        return;
      case 'UP':
      case 'LASTUP':
        return this.killTimeout();
      case 'FINISH':
      case 'LASTFINISH':
        return this.finishTimeout();
      default:
    }
  }

  private killTimeout(): void {
    const main = this.main;
    if (!main) return;
    if (this.files.has('flag-timeout-killpg')) main.killGroup(SIGKILL);
    else main.kill(SIGKILL);
    main.kill(SIGCONT);
    this.timer.set(KILL_REPEAT_MS, () => this.onDeadline());
  }

  private finishTimeout(): void {
    const finish = this.finish;
    if (!finish) return;
    this.warn(`finish (pid ${finish.pid}) exceeded timeout-finish: sending SIGKILL`);
    finish.kill(SIGCONT);
    finish.kill(SIGKILL);
    this.timer.set(KILL_REPEAT_MS, () => this.onDeadline());
  }

  // ---- starting run ------------------------------------------------------

  /** Spawns run now if nothing stops it; otherwise reports why and arranges a retry. */
  private trystart(once = false): void {
    this.timer.clear();
    if (this.strays?.active) {
      // A new instance never runs beside an old one: start once the strays are gone.
      this.startDeferred = once || this.startDeferred === 'once' ? 'once' : 'wantup';
      return;
    }
    const pidfile = this.files.pidfile();
    if (pidfile !== undefined) {
      try {
        removeStalePidFile(pidfile);
      } catch (err) {
        return this.startBlocked(`unable to remove the stale pid file ${pidfile}: ${errCode(err)}`);
      }
    }
    const notifyFd = this.usableFd('notification-fd', this.files.notificationFd());
    const lockFd = this.usableFd('lock-fd', this.files.lockFd());
    if (notifyFd !== undefined && notifyFd === lockFd) {
      return this.startBlocked(`notification-fd and lock-fd are both ${notifyFd} in ${this.dir}: not starting run until one of them changes`);
    }
    const extra = new Map<number, number>();
    let lock: number | undefined;
    let notifyRead: number | undefined;
    try {
      if (lockFd !== undefined) {
        lock = this.openServiceLock();
        if (lock === undefined) return;
        extra.set(lockFd, lock);
      }
      if (notifyFd !== undefined) {
        const [r, w] = pipe();
        notifyRead = r;
        extra.set(notifyFd, w);
      }
      const notifyExtras = this.notify.prepare();
      const main = this.spawn(this.root, 'run', [this.dirArg], extra, this.io(), (reason) => {
        this.startBlocked(`unable to spawn ${join(this.root, 'run')}: ${reason}; retrying in ${SPAWN_RETRY_MS / 1000} s or when ${this.dir} changes`);
      }, notifyExtras);
      if (!main) {
        if (notifyRead !== undefined) closeSync(notifyRead);
        return;
      }
      this.started(main, notifyRead, pidfile);
    } catch (err) {
      if (notifyRead !== undefined) closeSync(notifyRead);
      this.startBlocked(`unable to start ${join(this.root, 'run')}: ${errCode(err)}`);
    } finally {
      // The child has its copies; ours would keep the lock held and the pipe from ever seeing EOF.
      if (lock !== undefined) closeSync(lock);
      if (notifyFd !== undefined && extra.has(notifyFd)) closeSync(extra.get(notifyFd)!);
    }
  }

  private started(spawned: MainProcess, notifyRead: number | undefined, pidfile: string | undefined): void {
    this.stopFixWatch();
    const run = new Instance(notifyRead !== undefined, pidfile);
    // Notifications already sent count before run's death is judged (a MAINPID= just before exiting).
    const settle = () => this.notify.drain();
    const main = pidfile === undefined ? new FollowedMain(spawned, settle) : new PidfileMain(spawned, {
      pidfile, timeoutMs: this.files.timeoutReady(), reaped: run.reaped, clock: this.clock, warn: (m) => this.warn(m), settle,
    });
    run.begin(main);
    this.current = run;
    this.state = this.state === 'DOWN' ? 'UP' : this.state;
    this.throttle.started(this.clock.monoMs());
    Object.assign(this.record.status, { pid: main.pid, ready: false, paused: false, stamp: this.clock.wall() });
    main.onExit((wstat) => this.guarded(() => {
      if (this.isCurrent(run)) this.serviceDied(main.pid, wstat);
    }));
    main.onMoved((pid) => this.guarded(() => {
      if (this.isCurrent(run)) this.mainMoved(run, pid);
    }));
    this.notify.started(main.pid);
    this.record.save();
    this.record.event('u');
    // Nothing can be read before we are back in the event loop: announce the start first.
    if (notifyRead !== undefined) this.watchReadiness(run, notifyRead);
  }

  private io(): ServiceIo {
    return { stdio: this.hooks.stdio?.(), env: this.hooks.environment?.() };
  }

  /** An fd number the child can have: below our open-files limit. */
  private usableFd(name: string, fd: number | undefined): number | undefined {
    if (fd === undefined || fd < openFilesLimit()) return fd;
    this.warn(`invalid ${name}: "${fd}" is not below the open files limit ${openFilesLimit()}, ignored`);
    return undefined;
  }

  /**
   * supervise/service-lock, truncated, locked by us and handed to run at
   * lock-fd: the lock then lives exactly as long as the service's processes.
   */
  private openServiceLock(): number | undefined {
    const path = join(this.superviseDir, 'service-lock');
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      if (fstatSync(fd).size > 0) {
        this.warn(`${path} was not empty: truncating it`);
        ftruncateSync(fd, 0);
      }
      if (!tryLockWrite(fd)) {
        closeSync(fd);
        this.startBlocked(`${path} is still locked by a process of the previous instance: not starting run yet`);
        return undefined;
      }
      return fd;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /**
   * Something in the directory prevents a start: say so once, then retry
   * when the directory changes (the user fixing it), on `u`, or after a while.
   */
  private startBlocked(message: string): void {
    this.warn(message);
    if (this.state !== 'DOWN' || this.done) return;
    this.timer.set(SPAWN_RETRY_MS, () => this.onDeadline());
    if (this.fixWatch) return;
    try {
      this.fixWatch = watch(this.root, () => this.guarded(() => {
        if (this.state === 'DOWN' && this.record.status.wantup) {
          this.timer.set(Math.max(FIX_DEBOUNCE_MS, this.throttle.delay(this.clock.monoMs())), () => this.onDeadline());
        }
      }));
      this.fixWatch.on('error', () => this.stopFixWatch());
    } catch {
      // No inotify left: the timer alone will retry.
    }
  }

  private stopFixWatch(): void {
    this.fixWatch?.close();
    this.fixWatch = undefined;
  }

  /** Any chunk with a newline on the notification pipe means ready, once per instance. */
  private watchReadiness(run: Instance, fd: number): void {
    const sock = new Socket({ fd, readable: true, writable: false });
    run.notifyPipe = sock;
    sock.on('data', (chunk: Buffer) => this.guarded(() => {
      if (!chunk.includes(0x0a) || run.notifyPipe !== sock) return;
      this.becomeReady(run);
    }));
    const gone = () => {
      if (run.notifyPipe === sock) run.closeNotifyPipe();
    };
    sock.on('end', gone);
    sock.on('error', gone);
  }

  private becomeReady(run: Instance): void {
    run.closeNotifyPipe();
    this.throttle.ready(this.clock.monoMs());
    this.record.status.ready = true;
    this.record.status.readystamp = this.clock.wall();
    this.notify.becameReady();
    this.record.save();
    this.record.event('U');
  }

  // ---- the main process moves --------------------------------------------------

  /**
   * The service is another process now: a daemon adopted from its pid file,
   * or the process a MAINPID= named. A stop under way was aimed at the old
   * one: a `d` carries over, anything else does not.
   */
  private mainMoved(run: Instance, pid: number): void {
    this.record.status.pid = pid;
    run.addGroupOf(pid);
    if (run.downRequested) {
      run.downRequested = false;
      this.downSequence();
    } else {
      this.timer.clear();
    }
    // With a notification-fd, an adopted pid file means ready, unless the daemon said so already.
    if (run.pidfile !== undefined && run.withNotification && !this.record.status.ready) this.becomeReady(run);
    else this.record.save();
  }

  /** EXTEND_TIMEOUT_USEC=: a stop's kill timeout and the readiness bound in force last at least `ms` more. */
  private extendTimeouts(ms: number): void {
    if (!this.isUp()) return;
    if (this.timer.armed && this.timer.remaining < ms) this.timer.set(ms, () => this.onDeadline());
    this.main?.extendReadiness(ms);
  }

  /** Remembers orphans the reaper collected: a daemon may die before we read its pid. */
  orphanReaped(pid: number, wstat: number): void {
    this.current?.rememberReaped(pid, wstat);
    this.strays?.recheck();
  }

  // ---- strays ----------------------------------------------------------------

  /** The main process is dead: what the instance left behind goes too, unless flag-keep-strays. */
  private beginStrayCleanup(): void {
    // Every stray descends from us (we are a subreaper): with no child left, there is none.
    if (this.hooks.children().length === 0 || this.files.has('flag-keep-strays')) return;
    const cleanup: ProcessStop = strayCleanup({
      groups: [...(this.current?.groups ?? [])],
      // finish (and, later, the next run) are ours too, but no strays.
      adopted: () => this.hooks.adoptedChildren().filter((pid) => pid !== this.finish?.pid && pid !== this.main?.pid),
      roots: this.hooks.strayRoots && (() => this.hooks.strayRoots!()),
      downSignal: this.files.downSignal(),
      timeoutKill: this.files.timeoutKill() || STRAY_TIMEOUT_KILL_MS,
      clock: this.clock,
      onClean: () => this.straysGone(cleanup),
    });
    this.strays = cleanup;
    cleanup.begin();
  }

  private straysGone(cleanup: ProcessStop): void {
    if (this.strays !== cleanup) return;
    this.strays = undefined;
    // A deferred start still wanted: `o` asked for one run; otherwise only
    // while want-up holds (an `O` or `Q` meanwhile cancels it).
    const wanted = this.startDeferred === 'once' || (this.startDeferred === 'wantup' && this.record.status.wantup);
    this.startDeferred = false;
    if (wanted && this.state === 'DOWN' && !this.done) this.trystart();
  }

  /** run (or the process it handed over to, or a pidfile start that failed) is gone. */
  private serviceDied(pid: number, wstat: number): void {
    this.current?.ended();
    this.timer.clear();
    const now = this.clock.wall();
    Object.assign(this.record.status, { wstat, paused: false, ready: false, stamp: now });
    // Before finish runs, so that finish (s6-permafailon) sees this death.
    this.record.recordDeath(deathFromWstat(now, wstat), this.files.maxDeathTally());
    const finishExtras = this.notify.died();
    this.beginStrayCleanup();
    const finish = this.spawnFinish(pid, wstat, finishExtras);
    if (!finish) return this.downAndReady('dD');
    this.finish = finish;
    this.state = this.state === 'LASTUP' ? 'LASTFINISH' : 'FINISH';
    Object.assign(this.record.status, { pid: finish.pid, finishing: true });
    finish.onExit((fstat) => this.guarded(() => this.onFinishExit(finish, fstat)));
    this.record.save();
    this.record.event('d');
    const timeoutFinish = this.files.timeoutFinish();
    if (timeoutFinish > 0) this.timer.set(timeoutFinish, () => this.onDeadline());
  }

  /** `./finish EXIT SIG DIR PID`; EXIT is 256 when run was killed by a signal. */
  private spawnFinish(pid: number, wstat: number, extras?: SpawnExtras): MainProcess | undefined {
    if (!this.files.has('finish')) return undefined;
    const exit = wstatSignaled(wstat) ? 256 : wstatExitCode(wstat);
    const args = [String(exit), String(wstatTermsig(wstat)), this.dirArg, String(pid)];
    return this.spawn(this.root, 'finish', args, new Map(), this.io(), (reason) => {
      this.warn(`unable to spawn ${join(this.root, 'finish')}: ${reason}`);
    }, extras);
  }

  private onFinishExit(finish: MainProcess, wstat: number): void {
    if (this.finish !== finish || this.done) return;
    this.finish = undefined;
    this.timer.clear();
    if (!wstatSignaled(wstat) && wstatExitCode(wstat) === PERMANENT_FAILURE) {
      this.record.status.wantup = false;
      return this.downAndReady('OD');
    }
    this.downAndReady('D');
  }

  /** The service is down and finish is done: the state clients wait for with -D. */
  private downAndReady(events: string): void {
    const last = this.state === 'LASTUP' || this.state === 'LASTFINISH';
    Object.assign(this.record.status, { pid: 0, finishing: false, ready: true, readystamp: this.clock.wall() });
    this.state = 'DOWN';
    this.record.save();
    this.record.event(events);
    if (last) return this.exit();
    if (!this.record.status.wantup) return;
    const delay = this.throttle.delay(this.clock.monoMs());
    if (delay === 0) this.trystart();
    else this.timer.set(delay, () => this.onDeadline());
  }

  // ---- exit ----------------------------------------------------------------

  /** Sends `x` and lets go of everything; the service, if still running, is left alone. */
  private exit(): void {
    if (this.done) return;
    this.release(() => this.record.event('x'));
    this.hooks.exited(this);
  }

  /**
   * What a dead supervisor process leaves: the lock, the control FIFO and
   * every fd let go, no event sent, the service left running. A host calls
   * it when this supervisor threw; a new one then takes the service over.
   */
  abandon(): void {
    if (this.done) return;
    const quietly = (fn: () => void) => {
      try {
        fn();
      } catch {
        // half-built or half-closed already: the rest still goes
      }
    };
    this.release(() => {}, quietly);
  }

  private release(lastWords: () => void, step: (fn: () => void) => void = (fn) => fn()): void {
    this.done = true;
    step(() => this.timer.clear());
    step(() => this.current?.ended());
    step(() => this.notify.close());
    step(() => this.strays?.abandon());
    step(() => this.stopFixWatch());
    step(() => this.control?.close());
    step(lastWords);
    step(() => this.record.close());
    step(() => {
      if (this.lockFd >= 0) closeSync(this.lockFd);
      this.lockFd = -1;
    });
    step(() => {
      if (this.dirFd >= 0) closeSync(this.dirFd);
      this.dirFd = -1;
    });
  }

  // ---- messages ----------------------------------------------------------

  /** Messages name the directory as given, not the /proc path we reach it through. */
  private warn(message: string): void {
    this.hooks.warn(this.shown(message));
  }

  private shown(message: string): string {
    return message.split(this.root).join(this.dir);
  }
}

/** 1 for each byte s6-supervise understands. */
const IS_COMMAND = new Uint8Array(256);
for (const c of SUPERVISE_COMMANDS) IS_COMMAND[c.charCodeAt(0)] = 1;

/**
 * The command bytes of a chunk read from control, in order. Every other byte
 * would be ignored anyway; dropping them here, before any per-byte call,
 * keeps a flood of garbage (a megabyte of NULs after another) from holding
 * up the event loop a shared host's other services run on.
 */
function commandsIn(bytes: Buffer): string {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) n += IS_COMMAND[bytes[i]];
  if (n === bytes.length) return bytes.toString('latin1');
  if (n === 0) return '';
  const out = Buffer.allocUnsafe(n);
  let j = 0;
  for (let i = 0; i < bytes.length; i++) if (IS_COMMAND[bytes[i]]) out[j++] = bytes[i];
  return out.toString('latin1');
}

let fdLimit: number | undefined;
/** The soft RLIMIT_NOFILE, which bounds the fd numbers a child can be given. */
function openFilesLimit(): number {
  if (fdLimit === undefined) {
    let limit = 1024;
    try {
      const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
      if (m) limit = Number(m[1]);
    } catch {
      // keep the traditional default
    }
    fdLimit = Math.min(limit, 65536);
  }
  return fdLimit;
}
