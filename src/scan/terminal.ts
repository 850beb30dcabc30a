// The terminal a scanner was started from. A scanner run at a terminal (npm
// start, or `tether svscan DIR` typed at a shell) should stop its tree when
// that terminal goes away, as any foreground program does; but to s6-svscan
// SIGHUP means "rescan and prune", and scripts send it for that. The two are
// told apart by the terminal itself: once hung up, it is no terminal any more
// (tcgetattr fails with EIO), so a SIGHUP that comes with a dead terminal is
// a hangup, and any other SIGHUP keeps s6's meaning.
//
// Everything the tree writes to the terminal goes through a pipe the scanner
// relays: a process whose stdout or stderr is a hung-up terminal cannot even
// exit cleanly (Node aborts in its exit path when it cannot restore the
// terminal's modes), so no supervisor or service is given the terminal itself.
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { isatty, WriteStream } from 'node:tty';
import { dup2, pipe } from '../os/native';

export class ControllingTerminal {
  private relayIn: Socket | null = null;
  private relayInFd = -1;
  private relayOut: WriteStream | null = null;
  private relayOutFd = -1;
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
   * Points our fds 1 and 2 that are on the terminal at a pipe, and copies
   * that pipe to the terminal: supervisors and services inherit the pipe.
   * Call before starting any of them.
   */
  relayOutput(): void {
    const ttys = [1, 2].filter((n) => this.stdio.includes(n));
    if (ttys.length === 0) return;
    this.relayOutFd = openSync(`/proc/self/fd/${ttys[ttys.length - 1]}`, constants.O_WRONLY | constants.O_NOCTTY);
    const [read, write] = pipe();
    for (const n of ttys) dup2(write, n);
    closeSync(write);
    this.relayInFd = read;
    this.relayIn = new Socket({ fd: read, readable: true, writable: false });
    this.relayOut = new WriteStream(this.relayOutFd);
    this.relayOut.on('error', () => this.dropOutput());
    this.relayIn.pipe(this.relayOut);
  }

  /** Copies what is still in the pipe to the terminal, at exit. */
  flush(): void {
    if (!this.relayIn || !this.relayOut) return;
    this.relayIn.pause();
    const buf = Buffer.alloc(65536);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.relayInFd, buf);
        if (n <= 0) return;
        writeSync(this.relayOutFd, buf, 0, n);
      } catch {
        return; // EAGAIN: all of it; EIO: the terminal went meanwhile
      }
    }
  }

  /** The terminal is gone: what the tree writes is read and dropped, so no writer ever blocks. */
  private dropOutput(): void {
    if (!this.relayIn || !this.relayOut) return;
    this.relayIn.unpipe(this.relayOut);
    this.relayOut.destroy();
    this.relayOut = null;
    this.relayIn.on('data', () => {});
    this.relayIn.resume();
  }

  /** The terminal has hung up (its emulator closed, the ssh connection dropped). */
  hungUp(): boolean {
    return this.released || !isatty(this.fd);
  }

  /**
   * Lets go of a hung-up terminal: our fds 0-2 that were on it now point at
   * /dev/null. Node's exit path restores the termios of every stdio fd that
   * was a terminal, and aborts when that fails with EIO on a dead one; it
   * leaves alone an fd that now names another file.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    let devnull: number;
    try {
      devnull = openSync('/dev/null', constants.O_RDWR);
    } catch {
      return;
    }
    for (const n of this.stdio) {
      if (!isatty(n) && !(this.relayIn && n > 0)) dup2(devnull, n);
    }
    closeSync(devnull);
    closeSync(this.fd);
    this.dropOutput();
  }
}
