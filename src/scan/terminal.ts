// The terminal a scanner was started from. A scanner run at a terminal (npm
// start, or `tether svscan DIR` typed at a shell) should stop its tree when
// that terminal goes away, as any foreground program does; but to s6-svscan
// SIGHUP means "rescan and prune", and scripts send it for that. The two are
// told apart by the terminal itself: once hung up, it is no terminal any more
// (tcgetattr fails with EIO), so a SIGHUP that comes with a dead terminal is
// a hangup, and any other SIGHUP keeps s6's meaning.
//
// Everything the tree writes to the terminal goes through a pipe that a relay
// process copies to it: a process whose stdout or stderr is a hung-up
// terminal cannot even exit cleanly (Node aborts in its exit path when it
// cannot restore the terminal's modes), so no supervisor or service is given
// the terminal itself. The relay is a process of its own, not the scanner's
// event loop: a terminal that stops reading (Ctrl-S, a stalled ssh link)
// blocks the relay and, once the pipe is full, whoever writes, as it would
// block them without a relay; the scanner, which also writes its warnings
// into that pipe, would wait on itself for ever if it were the one to drain it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { isatty } from 'node:tty';
import { dup2, pipe } from '../os/native';
import { reaper } from '../os/reaper';

/**
 * Copies stdin to the terminal until every writer is gone. Ctrl-C, Ctrl-\,
 * the hangup and a TERM to the process group are the scanner's to act on:
 * the relay outlives them, so the tree's last words still reach the
 * terminal. Once the terminal is gone (a write fails), it reads on and drops
 * what it reads, so no writer ever blocks on a dead terminal.
 */
const RELAY_SCRIPT = "trap '' HUP INT QUIT TERM; cat; exec cat > /dev/null";

export class ControllingTerminal {
  private relay: ChildProcess | null = null;
  /** Our fds that were on the terminal and now write into the relay's pipe. */
  private relayed: number[] = [];
  private released = false;

  private constructor(
    private readonly fd: number,
    /** Which of fds 0-2 were a terminal at start: they are pointed at /dev/null once it hangs up. */
    private readonly stdio: readonly number[],
  ) {}

  /** The process's controlling terminal, held open to ask about it later; null if it has none. */
  static open(): ControllingTerminal | null {
    let fd: number;
    try {
      // libuv opens with O_CLOEXEC: no supervisor or service inherits it.
      fd = openSync('/dev/tty', constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch {
      return null; // ENXIO: no controlling terminal (setsid, a container, a daemon)
    }
    if (!isatty(fd)) {
      closeSync(fd);
      return null;
    }
    return new ControllingTerminal(fd, [0, 1, 2].filter((n) => isatty(n)));
  }

  /**
   * Points our fds 1 and 2 that are on the terminal at a pipe, and starts
   * the relay from that pipe to the terminal: supervisors and services
   * inherit the pipe. Call before starting any of them.
   */
  relayOutput(): void {
    const ttys = [1, 2].filter((n) => this.stdio.includes(n));
    if (ttys.length === 0) return;
    const [read, write] = pipe();
    try {
      const out = openSync(`/proc/self/fd/${ttys[ttys.length - 1]}`, constants.O_WRONLY | constants.O_NOCTTY);
      try {
        // In our process group, the terminal's foreground one: a background writer would get SIGTTOU.
        this.relay = reaper.leaveToLibuv(spawn('/bin/sh', ['-c', RELAY_SCRIPT], { stdio: [read, out, 'ignore'] }));
      } finally {
        closeSync(out);
      }
      this.relay.once('error', () => {}); // no /bin/sh: the pipe below is never made ours
      this.relay.unref();
      if (this.relay.pid === undefined) throw new Error('unable to spawn the relay (/bin/sh)');
      for (const n of ttys) dup2(write, n);
      this.relayed = ttys;
    } finally {
      closeSync(read);
      closeSync(write);
    }
  }

  /**
   * At exit: points our relayed fds at /dev/null, so that our ends of the
   * pipe close, and waits up to `ms` for the relay to copy what is left and
   * end, so the tree's last lines come before the shell's prompt. A process
   * left running (flag-keep-strays) keeps the pipe open: the relay stays on
   * for it, after us.
   */
  async finish(ms = 2000): Promise<void> {
    const relay = this.relay;
    if (!relay || relay.exitCode !== null || relay.signalCode !== null) return;
    const ended = new Promise<void>((res) => {
      const timer = setTimeout(res, ms);
      relay.once('exit', () => {
        clearTimeout(timer);
        res();
      });
    });
    this.toDevNull(this.relayed);
    await ended;
  }

  private toDevNull(fds: readonly number[]): void {
    let devnull: number;
    try {
      devnull = openSync('/dev/null', constants.O_RDWR);
    } catch {
      return;
    }
    for (const n of fds) dup2(devnull, n);
    closeSync(devnull);
  }

  /** The terminal has hung up (its emulator closed, the ssh connection dropped). */
  hungUp(): boolean {
    return this.released || !isatty(this.fd);
  }

  /**
   * Lets go of a hung-up terminal: our fds 0-2 that were on it (and are not
   * relayed) now point at /dev/null. Node's exit path restores the termios
   * of every stdio fd that was a terminal, and aborts when that fails with
   * EIO on a dead one; it leaves alone an fd that now names another file.
   * The relay drops what it reads from now on, by itself.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.toDevNull(this.stdio.filter((n) => !isatty(n) && !this.relayed.includes(n)));
    closeSync(this.fd);
  }
}
