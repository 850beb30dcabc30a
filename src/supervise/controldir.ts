// The on-disk side of a supervisor that clients see: the event fifodir, the
// supervise/ directory, its lock and its control FIFO.
import {
  chmodSync, chownSync, closeSync, constants, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, statSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { mkfifo, tryLockWrite } from '../os/native';
import { makeFifodir } from '../wire/fifodir';
import { errnoText as code } from '../base/errno';
import { EXIT_SYSTEM, EXIT_USAGE, Failure } from '../base/exit';


/**
 * If `path` is a symlink to nothing, creates the directory it points to, as
 * s6 does for `supervise` and `event` (they are often links into a tmpfs).
 * Returns true if it created one.
 */
function createDanglingTarget(path: string, mode: number): boolean {
  try {
    statSync(path);
    return false;
  } catch (err) {
    if (code(err) !== 'ENOENT' || !lstatSync(path).isSymbolicLink()) throw err;
  }
  // realpath: the link's directory may be reached through /proc/self/fd, where `..` means nothing useful.
  mkdirSync(resolve(realpathSync(dirname(path)), readlinkSync(path)), mode);
  return true;
}

/**
 * `event/`: a restricted fifodir, created if missing (following a dangling
 * link). Returns true if it was made now, and so has no listener to clean.
 * A directory just made needs no stat: a cold start of a big tree costs
 * what its inode creations cost, and nothing more.
 */
export function makeEventDir(path: string): boolean {
  try {
    if (makeFifodir(path)) return true;
    if (createDanglingTarget(path, 0o700)) {
      // Same shape makeFifodir gives a fresh one: our group, 03730.
      chownSync(path, -1, process.getegid?.() ?? -1);
      chmodSync(path, 0o3730);
      return true;
    }
  } catch (err) {
    throw new Failure(`unable to create ${path}: ${code(err)}`, EXIT_SYSTEM);
  }
  mustBeDirectory(path);
  return false;
}

/** s6's refusal (100) of a `supervise` or `event` that is a file. */
function mustBeDirectory(path: string): void {
  if (!statSync(path).isDirectory()) throw new Failure(`${path} exists and is not a directory`, EXIT_USAGE);
}

/** `supervise/`, mode 0700, created if missing; anything but a directory is refused. */
export function makeSuperviseDir(path: string): void {
  try {
    mkdirSync(path, 0o700);
    return;
  } catch (err) {
    if (code(err) !== 'EEXIST') throw new Failure(`unable to mkdir ${path}: ${code(err)}`, EXIT_SYSTEM);
    try {
      if (createDanglingTarget(path, 0o700)) return;
    } catch (e) {
      throw new Failure(`unable to create ${path}: ${code(e)}`, EXIT_SYSTEM);
    }
  }
  mustBeDirectory(path);
}

/**
 * Takes the OFD write lock on supervise/lock for the life of this process.
 * It is how s6-svok and every client know a supervisor is alive.
 */
export function lockSuperviseDir(lockPath: string): number {
  let fd: number;
  try {
    fd = openSync(lockPath, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_CREAT, 0o644);
  } catch (err) {
    throw new Failure(`unable to open ${lockPath}: ${code(err)}`, EXIT_SYSTEM);
  }
  let locked: boolean;
  try {
    locked = tryLockWrite(fd);
  } catch (err) {
    closeSync(fd);
    throw new Failure(`unable to lock ${lockPath}: ${code(err)}`, EXIT_SYSTEM);
  }
  if (!locked) {
    closeSync(fd);
    throw new Failure(`another instance of tether supervise or s6-supervise is already running (${lockPath} is locked)`, EXIT_USAGE);
  }
  return fd;
}

/**
 * The control FIFO, read without blocking through libuv (epoll). It is opened
 * O_RDWR, which Linux allows for a FIFO: one fd that is both its reader and a
 * writer, so the reader never sees EOF when a client closes, and a client's
 * open succeeds exactly while we live. s6-supervise holds two fds for the
 * same; one per service matters when a thousand share a process, since every
 * fd held is copied into each spawn and closed again by its exec.
 */
export class ControlFifo {
  private readonly socket: Socket;
  private closed = false;

  private constructor(fd: number) {
    this.socket = new Socket({ fd, readable: true, writable: false });
    this.socket.on('error', () => {}); // a FIFO we hold both ends of cannot fail; never crash on it
  }

  static open(path: string): ControlFifo {
    // Made first and looked at only if something is there already: on a cold start it never is.
    try {
      mkfifo(path, 0o600);
    } catch (err) {
      if (code(err) !== 'EEXIST') throw new Failure(`unable to mkfifo ${path}: ${code(err)}`, EXIT_SYSTEM);
      let st;
      try {
        st = lstatSync(path);
      } catch (e) {
        throw new Failure(`unable to stat ${path}: ${code(e)}`, EXIT_SYSTEM);
      }
      if (!st.isFIFO()) throw new Failure(`${path} exists and is not a FIFO`, EXIT_USAGE);
    }
    try {
      return new ControlFifo(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
    } catch (err) {
      throw new Failure(`unable to open ${path}: ${code(err)}`, EXIT_SYSTEM);
    }
  }

  /** Calls `fn` with every chunk clients write; commands may arrive many to a chunk. */
  onBytes(fn: (bytes: Buffer) => void): void {
    this.socket.on('data', fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}
