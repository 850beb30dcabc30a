// background-watch: runs a self-backgrounding program in the foreground, for
// run scripts under s6, runit or systemd. The program (the parent) forks the
// daemon, writes its pid to a pid file and exits 0. Because we are a child
// subreaper, the daemon is re-parented to us: its death comes as SIGCHLD and
// we reap it, so we exit exactly when it dies, with its status, no polling.
import { closeSync, unlinkSync, writeSync } from 'node:fs';
import { reaper } from '../os/reaper';
import { setCloexec } from '../os/native';
import { wstatToCode } from '../wire/signals';
import { EXIT_SYSTEM, die, warn } from './cli';
import { forwardSignals, sendSignal } from './forward';
import { execFailureCode, startForeground } from './foreground';
import { LoopHold } from './keepalive';
import { DEFAULT_PIDFILE_WAIT_MS, EXIT_BAD_PIDFILE, acceptDaemonPid, describePidFileError } from './pidfile';

const TOOL = 'background-watch';
/** Statuses of children reaped before the pid file is read, kept in case one is the daemon. */
const REAPED_MEMORY = 256;

export interface BackgroundWatchOptions {
  pidFile: string;
  argv: string[];
  /** Kill the parent if it has not exited after this many ms; 0: never. */
  timeoutMs: number;
  /** Write "\n" to this fd and close it once the daemon is accepted. */
  notificationFd?: number;
}

type Phase =
  | { name: 'parent'; parent: number }
  | { name: 'reading' }
  | { name: 'daemon'; pid: number };

export class BackgroundWatch {
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
      // s6's code for "this system cannot re-parent orphans to us".
      die(TOOL, 112, `unable to become a child subreaper: ${(err as Error).message}`);
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
      die(TOOL, execFailureCode(err), `unable to spawn ${opts.argv[0]}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    this.phase = { name: 'parent', parent };
    if (opts.timeoutMs > 0) {
      this.timer = setTimeout(() => this.parentTimedOut(), opts.timeoutMs);
    }
  }

  private forward(sig: NodeJS.Signals): void {
    const p = this.phase;
    if (p.name === 'parent') sendSignal(p.parent, sig);
    else if (p.name === 'reading') this.pending.push(sig);
    else sendSignal(p.pid, sig);
  }

  private parentTimedOut(): void {
    if (this.phase.name !== 'parent') return;
    warn(TOOL, `${this.opts.argv[0]} did not exit within ${this.opts.timeoutMs} ms: killing it`);
    this.timedOut = true;
    sendSignal(this.phase.parent, 'SIGKILL');
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
      process.exit(this.timedOut ? 137 : wstatToCode(wstat));
    }
    this.phase = { name: 'reading' };
    const waitMs = this.opts.timeoutMs > 0 ? this.opts.timeoutMs : DEFAULT_PIDFILE_WAIT_MS;
    let read;
    try {
      read = await acceptDaemonPid(this.opts.pidFile, waitMs, { reapedStatus: (pid) => this.reapedEarly.get(pid) });
    } catch (err) {
      die(TOOL, EXIT_SYSTEM, `unable to read ${this.opts.pidFile}: ${(err as Error).message}`);
    }
    if ('error' in read) die(TOOL, EXIT_BAD_PIDFILE, describePidFileError(this.opts.pidFile, read, waitMs));
    if (read.wstat !== undefined) process.exit(wstatToCode(read.wstat));
    this.adopt(read.pid);
  }

  private adopt(pid: number): void {
    this.reapedEarly.clear();
    this.phase = { name: 'daemon', pid };
    reaper.watch(pid, (_pid, wstat) => process.exit(wstatToCode(wstat)));
    this.notifyReady();
    for (const sig of this.pending.splice(0)) sendSignal(pid, sig);
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
      warn(TOOL, `unable to write to notification fd ${fd}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
}
