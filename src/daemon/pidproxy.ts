// pidproxy: supervisord's pidproxy, fixed. It runs PROG, which starts a
// daemon that writes a pid file, and stands in for the daemon: the signals a
// supervisor sends to pidproxy go to the pid the pid file names now (it is
// re-read at every signal, so a daemon that re-execs or re-writes its pid is
// followed), and pidproxy exits only when the daemon has really died, with
// its status. As a child subreaper it inherits the daemon once PROG is gone,
// so it learns of the death by SIGCHLD and reaps it: no polling, no zombie.
// supervisord's version exits as soon as PROG does and may signal whatever
// unrelated process got a stale pid; this one signals only its descendants.
import { reaper } from '../os/reaper';
import { isAlive } from '../os/proc';
import { wstatToCode } from '../wire/signals';
import { forwardSignals } from './forward';
import { killQuietly } from '../os/signal';
import { execFailureCode, startForeground } from './foreground';
import { LoopHold } from './keepalive';
import { DEFAULT_PIDFILE_WAIT_MS, isOwnDescendant, readPidFile, waitForPidFile, type PidFileRead } from '../os/pidfile';
import { errnoText } from '../base/errno';
import { EXIT_BAD_PIDFILE, EXIT_SYSTEM, Failure } from '../base/exit';
import { Outcome } from './outcome';

/** supervisord's pidproxy forwards exactly these. */
export const PIDPROXY_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
/** Remembered statuses of reaped children, for a daemon that dies before we look. */
const REAPED_MEMORY = 256;

export interface PidProxyOptions {
  pidFile: string;
  argv: string[];
  /** After PROG exits 0, how long to wait for a missing pid file. */
  pidFileWaitMs?: number;
  warn: (message: string) => void;
}

/**
 * Throws a Failure if PROG cannot start. `ended` settles once: with the
 * daemon's exit code (or PROG's), or rejects with a Failure.
 */
export class PidProxy {
  private readonly outcome = new Outcome();
  readonly ended = this.outcome.ended;
  private readonly prog: number;
  private progStatus: number | null = null;
  /** The daemon we last saw named in the pid file and descended from us. */
  private daemon: number | null = null;
  private readonly reaped = new Map<number, number>();
  private waitedForPidFile = false;
  private settling = false;
  private reaping = false;

  constructor(private readonly opts: PidProxyOptions) {
    try {
      reaper.start({ subreaper: true });
    } catch (err) {
      throw new Failure(`unable to become a child subreaper: ${(err as Error).message}`, EXIT_SYSTEM);
    }
    new LoopHold();
    reaper.onOrphan((pid, wstat) => {
      this.reaped.set(pid, wstat);
      if (this.reaped.size > REAPED_MEMORY) this.reaped.delete(this.reaped.keys().next().value as number);
      if (!this.reaping) void this.settle();
    });
    forwardSignals((sig) => this.forward(sig), PIDPROXY_SIGNALS);
    try {
      this.prog = startForeground(opts.argv, (wstat) => {
        this.progStatus = wstat;
        void this.settle();
      });
    } catch (err) {
      throw new Failure(`unable to spawn ${opts.argv[0]}: ${errnoText(err)}`, execFailureCode(err));
    }
  }

  private progRunning(): boolean {
    return this.progStatus === null;
  }

  /** The pid the pid file names now, if that process is ours to signal. */
  private currentDaemon(): number | null {
    const r = this.read();
    if (!('pid' in r)) return null;
    if (isAlive(r.pid) && isOwnDescendant(r.pid)) return r.pid;
    return null;
  }

  private forward(sig: NodeJS.Signals): void {
    const pid = this.currentDaemon();
    if (pid !== null) {
      this.daemon = pid;
      killQuietly(pid, sig);
    } else if (this.progRunning()) {
      killQuietly(this.prog, sig);
    } else if (this.daemon !== null && isAlive(this.daemon) && isOwnDescendant(this.daemon)) {
      killQuietly(this.daemon, sig);
    } else {
      this.opts.warn(`${sig}: no process to forward it to (${this.opts.pidFile} names none of ours)`);
    }
  }

  /** The pid file now; an unreadable one (EACCES, EISDIR) counts as garbage, with a warning. */
  private read(): PidFileRead {
    try {
      return readPidFile(this.opts.pidFile, { lenient: true });
    } catch (err) {
      this.opts.warn(`unable to read ${this.opts.pidFile}: ${errnoText(err)}`);
      return { error: 'garbage', content: '' };
    }
  }

  /** Called whenever something of ours died: decides whether we are done. */
  private async settle(): Promise<void> {
    if (this.progRunning() || this.settling || this.outcome.settled) return;
    // Look first, reap second. A daemon seen dead here that was our child is
    // a zombie the reap below collects, with its status. Reaping first would
    // let a daemon that dies between the reap and the look pass for one that
    // someone else reaped, and pidproxy would exit with PROG's status instead.
    const live = this.currentDaemon();
    const trackedGone = this.daemon !== null && !isAlive(this.daemon);
    // A pid seen alive is a newer process than any status remembered under its number.
    if (live !== null) this.reaped.delete(live);
    if (this.daemon !== null && !trackedGone) this.reaped.delete(this.daemon);
    this.reaping = true;
    try {
      reaper.reap();
    } finally {
      this.reaping = false;
    }
    if (live !== null) {
      // It may have died since the look, and been reaped just now.
      const st = this.reaped.get(live);
      if (st !== undefined) return this.exit(st);
      this.daemon = live;
      return;
    }
    const r = this.read();
    if ('pid' in r && this.reaped.has(r.pid)) return this.exit(this.reaped.get(r.pid) as number);
    if (this.daemon !== null) {
      const st = this.reaped.get(this.daemon);
      if (st !== undefined) return this.exit(st);
      // Gone and not reaped by us (its parent did: it leaves no status), or
      // its pid already reused by a stranger: nothing of ours is left.
      if (trackedGone || !isOwnDescendant(this.daemon)) this.exit(this.progStatus as number);
      return;
    }
    if (this.progStatus !== 0) return this.exit(this.progStatus as number);
    if (this.waitedForPidFile) {
      const what = 'pid' in r ? `names pid ${r.pid}, which is not a live descendant of this process` : r.error === 'missing' ? 'does not exist' : `does not hold a pid: ${JSON.stringify(r.content)}`;
      return this.outcome.fail(`pid file ${this.opts.pidFile} ${what}`, EXIT_BAD_PIDFILE);
    }
    this.settling = true;
    this.waitedForPidFile = true;
    try {
      await waitForPidFile(this.opts.pidFile, this.opts.pidFileWaitMs ?? DEFAULT_PIDFILE_WAIT_MS, { lenient: true });
    } catch (err) {
      return this.outcome.fail(`unable to watch for ${this.opts.pidFile}: ${(err as Error).message}`, EXIT_SYSTEM);
    }
    this.settling = false;
    await this.settle();
  }

  private exit(wstat: number): void {
    this.outcome.exit(wstatToCode(wstat));
  }
}
