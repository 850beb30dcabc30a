// Adopting a self-backgrounding daemon through the `pidfile` file, as a
// MainProcess of its own. run's process (the parent) forks the daemon,
// writes its pid to the pid file and exits 0. We are a child subreaper, so
// the daemon is now our child; we take the pid from the file only if it
// names our own child. An unreaped child's pid cannot be reused, which closes
// the race s6 calls unavoidable. The pid file rules are the ones tether
// background-watch uses (src/os/pidfile).
//
// To the supervisor this is one main process that moves once (onMoved, with
// the daemon's pid) and dies once (onExit): with the parent's status if it
// fails, with exit code 104 if its pid file is refused, with the daemon's
// status in the end.
import { unlinkSync } from 'node:fs';
import { DEFAULT_PIDFILE_WAIT_MS, acceptDaemonPid, describePidFileError } from '../os/pidfile';
import { EXIT_BAD_PIDFILE } from '../base/exit';
import { errnoOf, errnoText } from '../base/errno';
import { Deadline, type Clock } from './clock';
import { FollowedMain, type MainProcess } from './mainprocess';

export { EXIT_BAD_PIDFILE };

const SIGKILL = 9;
/** The pid file wait is bounded by our own deadline (which EXTEND_TIMEOUT_USEC moves), not by acceptDaemonPid's. */
const UNBOUNDED_MS = 2 ** 31 - 1;

/** Removes a pid file left by a previous instance, so a stale pid is never adopted. */
export function removeStalePidFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

export interface PidfileOptions {
  pidfile: string;
  /**
   * timeout-ready: for the parent to exit, then for the pid file to name the
   * daemon. 0, as for timeout-kill and timeout-finish, sets no bound on the
   * parent; the pid file is then awaited DEFAULT_PIDFILE_WAIT_MS, as
   * background-watch -t 0 does.
   */
  timeoutMs: number;
  /** Orphans reaped during this instance: a daemon that died before we read its pid is found there. */
  reaped: ReadonlyMap<number, number>;
  clock: Clock;
  warn(message: string): void;
  /** Runs before the parent's exit is judged (pending notifications). */
  settle?: () => void;
}

export class PidfileMain extends FollowedMain {
  /** The readiness bound in force: the parent's exit, then the pid file. */
  private readonly bound: Deadline;
  private wait: AbortController | undefined;
  private waitStarted = 0;

  constructor(parent: MainProcess, private readonly o: PidfileOptions) {
    super(parent, o.settle);
    this.bound = new Deadline(o.clock);
    if (o.timeoutMs > 0) this.bound.set(o.timeoutMs, () => this.parentTimeout());
  }

  /** EXTEND_TIMEOUT_USEC=: the readiness bound in force, if any, lasts at least `ms` more. */
  override extendReadiness(ms: number): void {
    if (!this.bound.armed || this.bound.remaining >= ms) return;
    if (this.wait) this.bound.set(ms, () => this.wait?.abort());
    else this.bound.set(ms, () => this.parentTimeout());
  }

  override release(): void {
    super.release();
    this.bound.clear();
    this.wait?.abort();
    this.wait = undefined;
  }

  protected override originExited(wstat: number): void {
    this.bound.clear();
    this.settle();
    if (this.released) return;
    if (this.handedOver || wstat !== 0) return super.originExited(wstat);
    this.readPidFile();
  }

  /** The parent exited 0: the daemon's pid is in the pid file, maybe a little later. */
  private readPidFile(): void {
    // No process to signal until the daemon is known: the parent's pid may be anyone's now.
    this.target = undefined;
    const wait = new AbortController();
    this.wait = wait;
    this.waitStarted = this.o.clock.monoMs();
    this.bound.set(this.o.timeoutMs > 0 ? this.o.timeoutMs : DEFAULT_PIDFILE_WAIT_MS, () => wait.abort());
    const { pidfile } = this.o;
    acceptDaemonPid(pidfile, UNBOUNDED_MS, { signal: wait.signal, reapedStatus: (pid) => this.o.reaped.get(pid) }).then(
      (read) => {
        if (this.released || this.wait !== wait) return;
        this.wait = undefined;
        this.bound.clear();
        if ('error' in read) return this.refused(describePidFileError(pidfile, read, Math.round(this.o.clock.monoMs() - this.waitStarted)));
        if (read.wstat !== undefined) {
          this.setPid(read.pid);
          return this.died(read.wstat);
        }
        this.follow(read.pid);
      },
      (err) => {
        if (this.released || this.wait !== wait) return;
        this.wait = undefined;
        this.refused(`unable to read pid file ${pidfile}: ${errnoText(err)}`);
      },
    );
  }

  private refused(reason: string): void {
    this.o.warn(`${reason}: the service failed (exit code ${EXIT_BAD_PIDFILE})`);
    this.died(EXIT_BAD_PIDFILE << 8);
  }

  /** The parent must fork and exit within timeout-ready; one that does not has failed to start. */
  private parentTimeout(): void {
    if (this.released || this.handedOver) return;
    this.o.warn(`run (pid ${this.origin.pid}) did not exit within timeout-ready: killing it; the start failed`);
    this.origin.killGroup(SIGKILL);
    this.origin.kill(SIGKILL);
  }
}
