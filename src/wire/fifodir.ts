// The ftrig protocol over an event fifodir: a notifier writes event bytes to
// every subscriber's FIFO; a listener subscribes by adding a FIFO of its own.
import {
  chmodSync, chownSync, closeSync, constants, fstatSync, mkdirSync, openSync, readSync, readdirSync, renameSync, unlinkSync, writeSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { mkfifo } from '../os/native';
import { formatTain, tainNow } from './tain';
import { errnoOf } from '../base/errno';

const PREFIX = 'ftrig1:@';
/** `ftrig1:@` + 24 hex digits + `:` + 6 random characters. */
export const LISTENER_NAME_LENGTH = 39;
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function isListenerName(name: string): boolean {
  return name.length === LISTENER_NAME_LENGTH && name.startsWith(PREFIX);
}

/**
 * Creates the fifodir if missing, as s6 does: mode 03730 and our group, so
 * only members of that group may subscribe. An existing one is left alone.
 * Returns true if it made it (it is then an empty directory).
 */
export function makeFifodir(path: string): boolean {
  try {
    mkdirSync(path, 0o700);
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return false;
    throw err;
  }
  chownSync(path, -1, process.getegid?.() ?? -1);
  chmodSync(path, 0o3730);
  return true;
}

/**
 * Writes `events` to every listener once, as s6's ftrig notifier does: lists
 * the directory (listeners join and leave at any time, and the directory is
 * the protocol), then opens each listener's FIFO, writes without blocking and
 * closes it, so no end of ours outlives its listener. Removes listeners that
 * are gone.
 */
export function notifyFifodir(path: string, events: string): void {
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return; // no fifodir, no listeners
  }
  const bytes = Buffer.from(events, 'latin1');
  for (const name of names) if (isListenerName(name)) notifyListener(join(path, name), bytes);
}

function notifyListener(fifo: string, bytes: Buffer): void {
  const fd = openListener(fifo);
  if (fd < 0) return;
  try {
    writeSync(fd, bytes);
  } catch (err) {
    // EAGAIN: that listener is not reading; it loses this event, we never block.
    // EPIPE: its reader is gone for good, and the entry goes.
    if (errnoOf(err) === 'EPIPE') unlinkQuietly(fifo);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a listener's FIFO for writing without blocking, or returns -1 (and
 * removes the entry if it can never be a listener). event/ is writable by
 * its group, so an entry may be planted: a symlink is not followed (a link
 * to another service's supervise/control would turn our events into its
 * commands), and anything but a FIFO gets no byte.
 */
function openListener(fifo: string): number {
  let fd: number;
  try {
    fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoOf(err);
    // ENXIO: its listener is gone; ELOOP: a symlink.
    if (code === 'ENXIO' || code === 'ELOOP') unlinkQuietly(fifo);
    return -1;
  }
  if (fstatSync(fd).isFIFO()) return fd;
  closeSync(fd);
  unlinkQuietly(fifo);
  return -1;
}

/** Removes listener FIFOs whose listener died without unlinking them. */
export function cleanFifodir(path: string): void {
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith('ftrig1') || name.length !== LISTENER_NAME_LENGTH) continue;
    const fd = openListener(join(path, name));
    if (fd >= 0) closeSync(fd);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Six random characters. Read from /dev/urandom rather than through
 * node:crypto, whose loading costs a waiting client more than its wait.
 */
function randomSuffix(): string {
  const bytes = Buffer.alloc(6);
  const fd = openSync('/dev/urandom', constants.O_RDONLY);
  try {
    readSync(fd, bytes, 0, bytes.length, null);
  } finally {
    closeSync(fd);
  }
  return Array.from(bytes, (b) => ALNUM[b % ALNUM.length]).join('');
}

/**
 * One subscription to a fifodir. The FIFO is made under a dot-name, opened,
 * and only then renamed into view, so a notifier never finds it without a
 * reader. We keep a write end open too, so the reader never sees EOF.
 */
export class FifodirListener {
  readonly path: string;
  private readonly socket: Socket;
  private readonly keepFd: number;
  private closed = false;

  private constructor(path: string, readFd: number, keepFd: number) {
    this.path = path;
    this.keepFd = keepFd;
    this.socket = new Socket({ fd: readFd, readable: true, writable: false });
  }

  static subscribe(fifodir: string): FifodirListener {
    makeFifodir(fifodir);
    for (;;) {
      const name = `${PREFIX}${formatTain(tainNow()).slice(1)}:${randomSuffix()}`;
      const hidden = join(fifodir, `.${name}`);
      try {
        mkfifo(hidden, 0o622);
      } catch (err) {
        if (errnoOf(err) === 'EEXIST') continue;
        throw err;
      }
      try {
        chmodSync(hidden, 0o622); // mkfifo's mode went through our umask
        const readFd = openSync(hidden, constants.O_RDONLY | constants.O_NONBLOCK);
        const keepFd = openSync(hidden, constants.O_WRONLY | constants.O_NONBLOCK);
        const path = join(fifodir, name);
        renameSync(hidden, path);
        return new FifodirListener(path, readFd, keepFd);
      } catch (err) {
        unlinkQuietly(hidden);
        throw err;
      }
    }
  }

  /** Calls `fn` with each chunk of event bytes, in order. */
  onEvents(fn: (events: string) => void): void {
    this.socket.on('data', (chunk: Buffer) => fn(chunk.toString('latin1')));
  }

  /** Lets the process exit while this listener is still open. */
  unref(): void {
    this.socket.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    unlinkQuietly(this.path);
    this.socket.destroy();
    closeSync(this.keepFd);
  }
}
