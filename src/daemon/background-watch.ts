// background-watch: runs a self-backgrounding program in the foreground, for
// run scripts under s6, runit or systemd. The program (the parent) forks the
// daemon, writes its pid to a pid file and exits 0. Because we are a child
// subreaper, the daemon is re-parented to us: its death comes as SIGCHLD and
// we reap it, so we exit exactly when it dies, with its status, no polling.
import { closeSync, unlinkSync, writeSync } from 'node:fs';
import { reaper } from '../os/reaper';
import { setCloexec } from '../os/native';
import { wstatToCode } from '../wire/signals';
import { forwardSignals } from './forward';
import { killQuietly } from '../os/signal';
import { execFailureCode, startForeground } from './foreground';
import { LoopHold } from './keepalive';
import { DEFAULT_PIDFILE_WAIT_MS, acceptDaemonPid, describePidFileError } from '../os/pidfile';
import { errnoText } from '../base/errno';
import { EXIT_BAD_PIDFILE, EXIT_SYSTEM, Failure } from '../base/exit';
import { Outcome } from './outcome';

/** s6's code for "this system cannot re-parent orphans to us". */
const EXIT_NO_SUBREAPER = 112;
/** Statuses of children reaped before the pid file is read, kept in case one is the daemon. */
const REAPED_MEMORY = 256;

export interface BackgroundWatchOptions {
  pidFile: string;
  argv: string[];
  /** Kill the parent if it has not exited after this many ms; 0: never. */
  timeoutMs: number;
  /** Write "\n" to this fd and close it once the daemon is accepted. */
  notificationFd?: number;
  warn: (message: string) => void;
}

type Phase =
  | { name: 'parent'; parent: number }
  | { name: 'reading' }
  | { name: 'daemon'; pid: number };

/**
 * Throws a Failure if PROG cannot start. `ended` settles once: with the
 * daemon's exit code (or PROG's), or rejects with a Failure.
 */
export class BackgroundWatch {
  private readonly outcome = new Outcome();
  readonly ended = this.outcome.ended;
  private phase: Phase;
  /** Signals received while the pid file is read, delivered to the daemon after. */
  private readonly pending: NodeJS.Signals[] = [];
  /** Children reaped before the pid file named one of them: the daemon may die early. */
  private readonly reapedEarly = new Map<number, number>();
  private timedOut = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: BackgroundWatchOptions) {
    if (opts.notificationFd !== undefined) setCloexec(opts.notificationFd);
    try {
      reaper.start({ subreaper: true });
    } catch (err) {
      throw new Failure(`unable to become a child subreaper: ${(err as Error).message}`, EXIT_NO_SUBREAPER);
    }
    reaper.onOrphan((pid, wstat) => {
      if (this.phase.name === 'daemon') return;
      this.reapedEarly.set(pid, wstat);
      if (this.reapedEarly.size > REAPED_MEMORY) this.reapedEarly.delete(this.reapedEarly.keys().next().value as number);
    });
    forwardSignals((sig) => this.forward(sig));
    // Our children are not libuv's and signal listeners are not ref'd: without
    // this, node would exit while the parent runs, or while the daemon does.
    new LoopHold();
    let parent: number;
    try {
      parent = startForeground(opts.argv, (wstat) => void this.parentExited(wstat));
    } catch (err) {
      throw new Failure(`unable to spawn ${opts.argv[0]}: ${errnoText(err)}`, execFailureCode(err));
    }
    this.phase = { name: 'parent', parent };
    if (opts.timeoutMs > 0) {
      this.timer = setTimeout(() => this.parentTimedOut(), opts.timeoutMs);
    }
  }

  private forward(sig: NodeJS.Signals): void {
    const p = this.phase;
    if (p.name === 'parent') killQuietly(p.parent, sig);
    else if (p.name === 'reading') this.pending.push(sig);
    else killQuietly(p.pid, sig);
  }

  private parentTimedOut(): void {
    if (this.phase.name !== 'parent') return;
    this.opts.warn(`${this.opts.argv[0]} did not exit within ${this.opts.timeoutMs} ms: killing it`);
    this.timedOut = true;
    killQuietly(this.phase.parent, 'SIGKILL');
  }

  private async parentExited(wstat: number): Promise<void> {
    clearTimeout(this.timer);
    if (wstat !== 0) {
      // The start failed; a pid file left behind would only mislead.
      try {
        unlinkSync(this.opts.pidFile);
      } catch {
        // absent already
      }
      return this.outcome.exit(this.timedOut ? 137 : wstatToCode(wstat));
    }
    this.phase = { name: 'reading' };
    const waitMs = this.opts.timeoutMs > 0 ? this.opts.timeoutMs : DEFAULT_PIDFILE_WAIT_MS;
    let read;
    try {
      read = await acceptDaemonPid(this.opts.pidFile, waitMs, { reapedStatus: (pid) => this.reapedEarly.get(pid) });
    } catch (err) {
      return this.outcome.fail(`unable to read ${this.opts.pidFile}: ${(err as Error).message}`, EXIT_SYSTEM);
    }
    if ('error' in read) return this.outcome.fail(describePidFileError(this.opts.pidFile, read, waitMs), EXIT_BAD_PIDFILE);
    if (read.wstat !== undefined) return this.outcome.exit(wstatToCode(read.wstat));
    this.adopt(read.pid);
  }

  private adopt(pid: number): void {
    this.reapedEarly.clear();
    this.phase = { name: 'daemon', pid };
    reaper.watch(pid, (_pid, wstat) => this.outcome.exit(wstatToCode(wstat)));
    this.notifyReady();
    for (const sig of this.pending.splice(0)) killQuietly(pid, sig);
    // A death that raced the watch registration is reaped now.
    reaper.reap();
  }

  private notifyReady(): void {
    const fd = this.opts.notificationFd;
    if (fd === undefined) return;
    try {
      writeSync(fd, '\n');
      closeSync(fd);
    } catch (err) {
      this.opts.warn(`unable to write to notification fd ${fd}: ${errnoText(err)}`);
    }
  }
}
