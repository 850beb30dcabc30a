// The glue between a Supervisor and the tether extensions of src/notify/:
// the NOTIFY_SOCKET, the watchdog and the health check of one service. The
// supervisor calls in at five points (before spawning run, once it runs, when
// it is ready, when it has died, at exit) and is called back through
// NotifyHost; everything else lives here, so the supervisor's state machine
// stays s6's.
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { NotifyAccessRule, ServiceDir } from '../servicedir/servicedir';
import { NotifyChannel } from '../notify/channel';
import { belongsToService, type ServiceProcesses } from '../notify/access';
import { usecToMs, type NotifyMessage } from '../notify/message';
import { Watchdog } from '../notify/watchdog';
import { HealthCheck, type CheckResult } from '../notify/health';
import { NOTIFY_STATUS_FILE, writeNotifyStatus, type NotifyStatus } from '../notify/statusfile';
import { SUN_PATH_MAX } from '../os/socket';
import { signalName } from '../wire/signals';
import type { Clock } from './clock';
import { spawnInSession, type ServiceIo, type SpawnExtras } from './spawn';

export interface NotifyHost {
  readonly files: ServiceDir;
  /** The directory as we reach it (/proc/self/fd/N) and as the service does. */
  readonly root: string;
  readonly dir: string;
  readonly dirArg: string;
  readonly clock: Clock;
  warn(message: string): void;
  /** fds 0-2 and the environment the service's processes get (the check runs with them too). */
  io(): ServiceIo;
  /** The supervisor's main process and finish, while they live. */
  mainPid(): number | undefined;
  finishPid(): number | undefined;
  /** READY=1 or a passing check: the supervisor's readiness path (once per instance). */
  ready(): void;
  /** The ordinary down path with `sig` instead of down-signal; want-up stays, so it restarts. */
  takeDown(sig: number): void;
  /** EXTEND_TIMEOUT_USEC=: a running stop timeout and the readiness bound in force last at least `ms` more. */
  extendTimeouts(ms: number): void;
  /** MAINPID= named `pid`, a process of this service: it is the main process from now on. */
  followMainPid(pid: number): void;
}

type Reason = NonNullable<NotifyStatus['reason']>;

export class ServiceNotify {
  private channel: NotifyChannel | undefined;
  private channelUid: number | undefined;
  private readonly watchdog: Watchdog;
  private health: HealthCheck | undefined;
  private st: NotifyStatus = {};
  /** Some extension is in use: only then is notify-status written. */
  private active = false;
  private runPid: number | undefined;
  private reason: Reason | undefined;
  /** notify-access, read at each start of run (s6 reads a file when it is used; a datagram is too often). */
  private access: NotifyAccessRule = 'main';
  private reloadRequestUsec: bigint | undefined;

  constructor(private readonly host: NotifyHost) {
    this.watchdog = new Watchdog(host.clock, (why) => this.watchdogFired(why));
  }

  /**
   * Before run is spawned: opens the socket if the service wants one and
   * returns what run's environment gets. Throws if the socket cannot be made
   * (the supervisor then reports a failed start and retries).
   */
  prepare(): SpawnExtras | undefined {
    const { files } = this.host;
    const cfg = files.notifySocket();
    const watchdogUsec = files.watchdogUsec();
    const wasActive = this.active;
    this.active = cfg !== undefined || watchdogUsec > 0 || files.has('check');
    // The extensions were just removed from the directory: so goes what they recorded.
    if (wasActive && !this.active) removeQuietly(join(this.host.root, 'supervise', NOTIFY_STATUS_FILE));
    if (cfg === undefined && watchdogUsec === 0) {
      this.closeChannel();
      return undefined;
    }
    this.access = files.notifyAccess();
    const channel = this.openChannel(cfg?.uid);
    const env = [`NOTIFY_SOCKET=${channel.address}`];
    if (watchdogUsec > 0) env.push(`WATCHDOG_USEC=${watchdogUsec}`);
    this.watchdog.setPeriod(watchdogUsec > 0 ? usecToMs(BigInt(watchdogUsec)) : 0);
    return { env, ownPidAs: watchdogUsec > 0 ? 'WATCHDOG_PID' : undefined };
  }

  /** run is running: a new instance, with its own flags and checks. */
  started(pid: number): void {
    this.runPid = pid;
    this.reloadRequestUsec = undefined;
    this.reason = undefined;
    this.watchdog.disarm();
    const { reason, check } = this.st;
    this.st = { reason, check, watchdog_usec: this.watchdog.period > 0 ? this.host.files.watchdogUsec() : undefined };
    if (this.host.files.has('check')) this.startChecks();
    this.save();
  }

  /**
   * `svc -h` or `svc -l` reached the service: a RELOADING=1 whose
   * MONOTONIC_USEC is older than this answers an earlier reload and is
   * ignored, as systemd ignores it (Type=notify-reload).
   */
  reloadRequested(): void {
    this.reloadRequestUsec = process.hrtime.bigint() / 1000n; // libuv's hrtime is CLOCK_MONOTONIC, as the client's
  }

  /** The service is ready, by whatever means: the watchdog starts counting. */
  becameReady(): void {
    if (this.watchdog.period > 0) this.watchdog.arm();
  }

  /**
   * run (or the daemon) is gone: checks and watchdog stop, the reason is
   * recorded, and finish gets it as SERVICE_RESULT (systemd's name), with
   * NOTIFY_SOCKET, so `finish` can tell a watchdog kill from a crash.
   */
  died(): SpawnExtras | undefined {
    this.watchdog.disarm();
    this.health?.stop();
    this.health = undefined;
    this.runPid = undefined;
    this.st.reason = this.reason;
    Object.assign(this.st, { stopping: undefined, reloading: undefined, mainpid: undefined });
    this.save();
    const env: string[] = [];
    if (this.reason) env.push(`SERVICE_RESULT=${this.reason}`);
    if (this.channel) env.push(`NOTIFY_SOCKET=${this.channel.address}`);
    return env.length ? { env } : undefined;
  }

  /** Handles every datagram already queued: run's death is judged after what it said before dying. */
  drain(): void {
    // Unbounded: the death waits for every word run said before it; the wakeup's fairness is for floods.
    this.channel?.drain(Number.MAX_SAFE_INTEGER);
  }

  close(): void {
    this.watchdog.disarm();
    this.health?.stop();
    this.closeChannel();
  }

  // ---- the socket ------------------------------------------------------------

  private openChannel(uid: number | undefined): NotifyChannel {
    if (this.channel && this.channelUid === uid) return this.channel;
    this.closeChannel();
    const advertise = join(this.host.dir, 'supervise', 'notify');
    // supervise/ is 0700: a service running as another user reaches only an abstract name.
    const usePath = uid === undefined && Buffer.byteLength(advertise) < SUN_PATH_MAX;
    this.channel = new NotifyChannel({
      path: usePath ? { bind: join(this.host.root, 'supervise', 'notify'), advertise } : undefined,
      access: () => this.access,
      processes: () => this.processes(),
      uids: uid === undefined ? [] : [uid],
      onMessage: (msg, pid) => this.onMessage(msg, pid),
      warn: (m) => this.host.warn(m),
    });
    this.channelUid = uid;
    return this.channel;
  }

  private closeChannel(): void {
    this.channel?.close();
    this.channel = undefined;
  }

  private processes(): ServiceProcesses {
    const main = [this.host.mainPid()].filter((p): p is number => p !== undefined);
    const exec = [this.runPid, this.host.finishPid()].filter((p): p is number => p !== undefined);
    return { main, exec };
  }

  // ---- messages ---------------------------------------------------------------

  private onMessage(msg: NotifyMessage, sender: number): void {
    const before = JSON.stringify(this.st);
    if (msg.mainPid !== undefined) this.setMainPid(msg.mainPid, sender);
    if (msg.status !== undefined) this.st.status = msg.status;
    if (msg.stopping) this.st.stopping = true;
    if (msg.reloading && !this.staleReload(msg.monotonicUsec)) this.st.reloading = true;
    if (msg.errno !== undefined) this.st.errno = msg.errno;
    if (msg.exitStatus !== undefined) this.st.exit_status = msg.exitStatus;
    if (msg.watchdogUsec !== undefined) {
      this.watchdog.setPeriod(usecToMs(msg.watchdogUsec));
      this.st.watchdog_usec = Number(msg.watchdogUsec);
    }
    if (msg.ready) this.st.reloading = undefined;
    // Written before the U event, so a client woken by it reads the STATUS= that came along.
    // A ping changes nothing on disk: one write per ping would be the watchdog's whole cost.
    if (JSON.stringify(this.st) !== before) this.save();
    if (msg.ready) this.host.ready();
    if (msg.watchdog === 'ping') this.watchdog.ping();
    if (msg.extendTimeoutUsec !== undefined) this.host.extendTimeouts(usecToMs(msg.extendTimeoutUsec));
    if (msg.watchdog === 'trigger') this.watchdog.trigger();
  }

  private staleReload(usec: bigint | undefined): boolean {
    return usec !== undefined && this.reloadRequestUsec !== undefined && usec < this.reloadRequestUsec;
  }

  /**
   * MAINPID= names the main process, if it is one of this service's (a
   * descendant of run or finish, or in their sessions; systemd checks the
   * cgroup): the supervisor follows it from then on.
   */
  private setMainPid(pid: number, sender: number): void {
    if (!belongsToService(pid, this.processes())) {
      this.host.warn(`ignoring MAINPID=${pid} from pid ${sender}: not a process of this service`);
      return;
    }
    this.st.mainpid = pid;
    this.host.followMainPid(pid);
  }

  // ---- the watchdog and the checks ----------------------------------------------

  private watchdogFired(why: 'timeout' | 'trigger'): void {
    if (this.host.mainPid() === undefined) return;
    const sig = this.host.files.watchdogSignal();
    const cause = why === 'trigger' ? 'WATCHDOG=trigger' : `no WATCHDOG=1 within ${this.watchdog.period} ms`;
    this.takeDown('watchdog', sig, cause);
  }

  private takeDown(reason: Reason, sig: number, cause: string): void {
    this.reason = reason;
    this.host.warn(`${reason}: ${cause}: sending ${signalName(sig)} to pid ${this.host.mainPid()}`);
    this.host.takeDown(sig);
  }

  private startChecks(): void {
    const { files, root, dirArg, clock } = this.host;
    this.health?.stop();
    let spawnFailed = false;
    this.health = new HealthCheck({
      timers: clock,
      spawn: () => spawnInSession(root, 'check', [dirArg], new Map(), this.host.io(), (why) => {
        // Once per instance: a check that cannot start would otherwise be reported every interval.
        if (!spawnFailed) this.host.warn(`unable to spawn ${join(this.host.dir, 'check')}: ${why}`);
        spawnFailed = true;
      }),
      intervalMs: files.checkInterval(),
      timeoutMs: files.checkTimeout(),
      retries: files.healthRetries(),
      onResult: (r) => this.checked(r),
      onReady: () => this.host.ready(),
      onUnhealthy: (n) => {
        if (this.host.mainPid() !== undefined) this.takeDown('health', files.downSignal(), `check failed ${n} times in a row`);
      },
    });
    this.health.start();
  }

  /** Written when the result changes, not at every check: a healthy service costs no writes. */
  private checked(r: CheckResult): void {
    if (r.timedOut) this.host.warn(`check exceeded check-timeout (${this.host.files.checkTimeout()} ms): killed`);
    const prev = this.st.check;
    if (prev && prev.ok === r.ok && prev.code === r.code && prev.timed_out === r.timedOut && prev.failures === r.failures) return;
    this.st.check = { ok: r.ok, code: r.code, timed_out: r.timedOut, failures: r.failures, since: new Date().toISOString() };
    this.save();
  }

  private save(): void {
    if (!this.active) return;
    try {
      writeNotifyStatus(join(this.host.root, 'supervise', NOTIFY_STATUS_FILE), this.st);
    } catch (err) {
      this.host.warn(`unable to write ${join(this.host.dir, 'supervise', NOTIFY_STATUS_FILE)}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
