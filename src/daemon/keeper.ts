// The tree keeper: the process between a spawnTree() owner and its program.
// It is a child subreaper, so every descendant of the program that loses its
// parent (a daemon that double-forked, say) is re-parented to it and stays
// in view. When the owner closes the handle, or dies (the kernel sends us
// PR_SET_PDEATHSIG, and our control socket reaches EOF), it ends the whole
// tree: TERM and CONT to every descendant, KILL after a grace period, and
// exits once it has no child left. With no child left, no descendant is left
// either: each one's chain of parents ends at one of our children or at us.
//
// Wire protocol on the control socket (fd 3), keeper to owner, one line each:
//   "pid N"            the program runs as pid N
//   "error CODE TEXT"  the program could not be spawned
//   "exit CODE SIGNAL" the program exited ("-" for the absent one)
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { reaper } from '../os/reaper';
import { descendantsOf } from '../os/proc';
import { killQuietly } from '../os/signal';
import { setCloexec, setParentDeathSignal } from '../os/native';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { errnoOf } from '../base/errno';
import { Outcome } from './outcome';
import { execFailureCode } from './foreground';

export const CONTROL_FD = 3;
export const DEFAULT_GRACE_MS = 5000;

export interface KeeperOptions {
  argv: string[];
  /** The owner's pid: if our parent is already someone else, the owner died before we could ask to be told. */
  ownerPid: number;
  graceMs: number;
}

/** `ended` settles with the exit code once no descendant is left. */
export class TreeKeeper {
  private readonly outcome = new Outcome();
  readonly ended = this.outcome.ended;
  private readonly control: Socket;
  private programStatus: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private phase: 'running' | 'terminating' | 'killing' = 'running';
  private readonly termed = new Set<number>();

  constructor(private readonly opts: KeeperOptions) {
    setParentDeathSignal(constants.signals.SIGTERM);
    setCloexec(CONTROL_FD); // the program must not hold our end of the owner's socket
    this.control = new Socket({ fd: CONTROL_FD, readable: true, writable: true });
    this.control.on('error', () => this.teardown());
    this.control.on('end', () => this.teardown());
    this.control.resume();
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) process.on(sig, () => this.teardown());
    reaper.start({ subreaper: true });
    reaper.onOrphan(() => this.childGone());
    if (process.ppid !== opts.ownerPid) {
      // Died before PR_SET_PDEATHSIG was set: no signal will come.
      throw new Failure(`owner ${opts.ownerPid} is gone`, EXIT_SYSTEM);
    }
    this.spawnProgram();
  }

  private send(line: string): void {
    if (!this.control.destroyed && this.control.writable) this.control.write(`${line}\n`);
  }

  private spawnProgram(): void {
    const [cmd, ...args] = this.opts.argv;
    const child = reaper.leaveToLibuv(spawn(cmd, args, { stdio: 'inherit' }));
    child.once('error', (err) => {
      this.send(`error ${errnoOf(err) ?? 'EIO'} ${err.message.replace(/\n/g, ' ')}`);
      this.control.end(() => this.outcome.exit(execFailureCode(err)));
    });
    child.once('exit', (code, signal) => {
      this.programStatus = { code, signal };
      this.send(`exit ${code ?? '-'} ${signal ?? '-'}`);
      this.childGone();
    });
    if (child.pid !== undefined) this.send(`pid ${child.pid}`);
  }

  /** Ends every descendant: TERM (and CONT, for stopped ones) now, KILL after the grace. */
  teardown(): void {
    if (this.phase !== 'running') return;
    this.phase = 'terminating';
    // Ref'd on purpose: once the owner is gone, adopted descendants alone
    // would not keep node running until they are killed.
    setTimeout(() => {
      this.phase = 'killing';
      this.signalTree();
    }, this.opts.graceMs);
    this.signalTree();
  }

  private signalTree(): void {
    const all = descendantsOf(process.pid);
    if (all.length === 0) return this.exit();
    for (const pid of all) {
      if (this.phase === 'killing') killQuietly(pid, 'SIGKILL');
      else if (!this.termed.has(pid)) {
        this.termed.add(pid);
        killQuietly(pid, 'SIGTERM');
        killQuietly(pid, 'SIGCONT');
      }
    }
  }

  /** A child of ours was reaped (the program, or an adopted orphan). */
  private childGone(): void {
    if (this.phase !== 'running') return this.signalTree();
    // The program is gone and nothing it started is left: nothing to keep.
    if (this.programStatus !== null && reaper.children().length === 0) this.exit();
  }

  private exit(): void {
    const st = this.programStatus;
    const code = st === null ? 0 : st.signal ? 128 + (constants.signals[st.signal] ?? 0) : st.code ?? 0;
    // Let the last line ("exit ...") reach the owner first, if it is there to read it.
    const done = () => this.outcome.exit(code);
    if (this.control.destroyed || this.control.writableLength === 0) done();
    this.control.once('drain', done).once('error', done).once('close', done);
  }
}
