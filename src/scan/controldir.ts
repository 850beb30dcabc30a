// The scanner's control directory, `.s6-svscan/`: the lock that makes the
// scanner unique, the control FIFO that svscanctl writes to, and the optional
// programs (finish, crash, SIG<NAME>) that users put there.
import { accessSync, chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { mkfifo, tryLockWrite } from '../os/native';
import { errnoOf } from '../base/errno';
import { EXIT_USAGE, Failure } from '../base/exit';

export const CONTROL_DIR = '.s6-svscan';


export class ControlDir {
  readonly path: string;
  private readonly lockFd: number;
  private readonly keepFd: number;
  private readonly socket: Socket;

  private constructor(path: string, lockFd: number, readFd: number, keepFd: number) {
    this.path = path;
    this.lockFd = lockFd;
    this.keepFd = keepFd;
    this.socket = new Socket({ fd: readFd, readable: true, writable: false });
  }

  /** Makes `.s6-svscan/`, takes its lock and opens its control FIFO. */
  static open(scandir: string): ControlDir {
    const path = join(scandir, CONTROL_DIR);
    try {
      mkdirSync(path, 0o700);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw err;
      if (!statSync(path).isDirectory()) throw new Failure(`${path} exists and is not a directory`, EXIT_USAGE);
    }
    const lockFd = openSync(join(path, 'lock'), constants.O_RDWR | constants.O_CREAT, 0o600);
    if (!tryLockWrite(lockFd)) {
      closeSync(lockFd);
      throw new Failure(`another instance of svscan is already running on ${scandir}`, EXIT_USAGE);
    }
    const control = join(path, 'control');
    makeControlFifo(control);
    // Our own write end keeps the reader from ever seeing EOF, as s6 does.
    const readFd = openSync(control, constants.O_RDONLY | constants.O_NONBLOCK);
    const keepFd = openSync(control, constants.O_WRONLY | constants.O_NONBLOCK);
    return new ControlDir(path, lockFd, readFd, keepFd);
  }

  /** Calls `fn` with each control byte, in the order written. */
  onCommand(fn: (byte: string) => void): void {
    this.socket.on('data', (chunk: Buffer) => {
      for (const byte of chunk.toString('latin1')) fn(byte);
    });
  }

  /** The path of `.s6-svscan/NAME` if it is an executable program, else undefined. */
  program(name: string): string | undefined {
    const p = join(this.path, name);
    try {
      accessSync(p, constants.X_OK);
      return lstatSync(p).isDirectory() ? undefined : p;
    } catch {
      return undefined;
    }
  }

  /** Stops listening and releases the lock. */
  close(): void {
    this.socket.destroy();
    closeQuietly(this.keepFd);
    closeQuietly(this.lockFd);
  }
}

function makeControlFifo(path: string): void {
  try {
    mkfifo(path, 0o600);
    chmodSync(path, 0o600); // mkfifo's mode went through the umask
    return;
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw err;
  }
  if (!lstatSync(path).isFIFO()) throw new Failure(`${path} exists and is not a FIFO`, EXIT_USAGE);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
