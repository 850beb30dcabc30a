// The process-wide half of `tether supervise`: signal handlers, the SIGCHLD
// reaper and subreaper flag, fds 0-2 and inherited stray fds. It dispatches
// to the supervisors it hosts (one per process by default), so a Supervisor
// itself never touches process-wide state.
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { cloexecStrayFds, dup2 } from '../os/native';
import { reaper } from '../os/reaper';
import { Supervisor, type HostSignal } from './supervisor';

const HOST_SIGNALS: readonly HostSignal[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGINT'];

export interface HostOptions {
  /** Where one-line messages go; stderr by default. */
  log?: (line: string) => void;
  /** Called when the last supervisor has exited; exits the process by default. */
  onIdle?: () => void;
}

export class SuperviseHost {
  private readonly supervisors = new Set<Supervisor>();
  private readonly log: (line: string) => void;
  private readonly onIdle: () => void;

  constructor(opts: HostOptions = {}) {
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.onIdle = opts.onIdle ?? (() => process.exit(0));
  }

  /** Makes the process fit to supervise; call once, before `supervise`. */
  start(): void {
    ensureStdFds();
    cloexecStrayFds();
    // Orphans of our services come to us and are reaped on SIGCHLD: no zombie stays.
    reaper.start({ subreaper: true });
    reaper.onOrphan((pid, wstat) => {
      for (const sup of this.supervisors) sup.orphanReaped(pid, wstat);
    });
    for (const sig of HOST_SIGNALS) process.on(sig, () => this.dispatch(sig));
    // Without a listener, SIGUSR1 opens Node's inspector: code execution for
    // any local user who can signal us. A supervisor has no use for it.
    process.on('SIGUSR1', () => this.log('tether supervise: warning: SIGUSR1 ignored'));
    // A closed stderr (EPIPE) must not kill the supervisor: warnings are lost, nothing else.
    process.stderr.on('error', () => {});
  }

  /** Starts supervising `dirArg`. Throws a Failure if it cannot. */
  supervise(dirArg: string): Supervisor {
    const sup = new Supervisor(dirArg, {
      warn: (message) => this.log(`tether supervise: warning: ${message}`),
      closeStdio: () => this.closeStdio(),
      exited: (s) => this.exited(s),
      adoptedChildren: () => this.orphansOf(sup),
      children: () => reaper.children(),
    });
    sup.start();
    this.supervisors.add(sup);
    return sup;
  }

  /**
   * Orphans cannot say which service they came from. With one supervisor per
   * process (the default) they are all its own; a host of several does not
   * attribute them, so their strays are left to the reaper.
   */
  private orphansOf(sup: Supervisor): number[] {
    return this.supervisors.size === 1 && this.supervisors.has(sup) ? reaper.adoptedChildren() : [];
  }

  private dispatch(sig: HostSignal): void {
    for (const sup of [...this.supervisors]) sup.onSignal(sig);
  }

  private exited(sup: Supervisor): void {
    this.supervisors.delete(sup);
    if (this.supervisors.size === 0) this.onIdle();
  }

  /** fds 0 and 1 become /dev/null: a logger reading our stdout sees EOF. */
  private closeStdio(): void {
    try {
      const fd = openSync('/dev/null', constants.O_RDWR);
      dup2(fd, 0);
      dup2(fd, 1);
      closeSync(fd);
    } catch (err) {
      this.log(`tether supervise: warning: unable to redirect stdin and stdout to /dev/null: ${(err as Error).message}`);
    }
  }
}

/** Services inherit fds 0-2: make sure each is open, on /dev/null if it was not. */
export function ensureStdFds(): void {
  for (let fd = 0; fd <= 2; fd++) {
    try {
      fstatSync(fd);
    } catch {
      const opened = openSync('/dev/null', constants.O_RDWR);
      if (opened !== fd) {
        dup2(opened, fd);
        closeSync(opened);
      }
    }
  }
}
