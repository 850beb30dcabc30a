// The scanner's control directory, `.s6-svscan/`: the lock that makes the
// scanner unique, the control FIFO that svscanctl writes to, and the optional
// programs (finish, crash, SIG<NAME>) that users put there.
import {
  accessSync, chmodSync, closeSync, constants, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync, writeSync,
} from 'node:fs';
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
      const holder = lockHolder(lockFd);
      closeSync(lockFd);
      throw new Failure(`another svscan${holder === null ? '' : ` (pid ${holder})`} is running on ${scandir}: stop it with tether svscanctl -t ${scandir}`, EXIT_USAGE);
    }
    // Our pid, for the message above in the next scanner: an OFD lock does not tell it.
    try {
      ftruncateSync(lockFd);
      writeSync(lockFd, `${process.pid}\n`, 0);
    } catch {
      // the lock is what counts; a second scanner then names no pid
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

/**
 * The pid of the scanner that holds the lock: a POSIX lock (s6-svscan's)
 * names it in /proc/locks; an OFD lock (ours) shows -1 there, so the pid the
 * holder wrote into the file is taken if that process holds a lock on it
 * (its /proc/PID/fdinfo lists it), or if it is alive where fdinfo is closed
 * to us (another user's). Null if unknown.
 */
function lockHolder(lockFd: number): number | null {
  const st = fstatSync(lockFd);
  const inode = `:${st.ino} `;
  let locks = '';
  try {
    locks = readFileSync('/proc/locks', 'latin1');
  } catch {
    // no procfs
  }
  for (const line of locks.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === 'POSIX' && f[3] === 'WRITE' && `${f[5]} `.endsWith(inode) && Number(f[4]) > 0) return Number(f[4]);
  }
  const buf = Buffer.alloc(32);
  const n = readSync(lockFd, buf, 0, buf.length, 0);
  const pid = Number(/^([0-9]+)\n/.exec(buf.subarray(0, n).toString('latin1'))?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return holdsLockOn(pid, inode) ? pid : null;
}

function holdsLockOn(pid: number, inode: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch (err) {
    return errnoOf(err) === 'EACCES';
  }
  return fds.some((fd) => {
    try {
      return readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1').split('\n').some((l) => l.startsWith('lock:') && l.includes(inode));
    } catch {
      return false;
    }
  });
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
