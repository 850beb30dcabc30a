// supervise/status and supervise/death_tally: files a supervisor replaces
// whole, several times per restart, on the path between a death and the next
// start. Replacing a file means freeing the inode it replaces, and on ext4
// that is most of what rename() costs (0.2 to 1.4 ms each, measured with
// `perf trace` beside s6-supervise). Opening the current inode just before
// the rename makes the rename cheap; the old inode is then freed by a close()
// on a later turn of the event loop, after the restart is done and announced.
// A shared host closes on libuv's thread pool: on a busy disk, freeing an
// inode waits for the journal (close was the largest item of a shared host's
// profile with a hundred crash-looping services), and one service's wait must
// not hold up the event loop every other service runs on. A process of one
// supervisor has nothing else to do meanwhile, and the hand-off to the pool
// would cost it more syscalls (futex, epoll) than it saves.
//
// Nothing is held between writes: every fd a process holds is copied into
// each child it spawns and closed again by its exec (do_close_on_exec, with a
// flush and a lock check per fd), so in shared mode two held fds per service
// made each of a thousand spawns pay for two thousand more fds.
import { close, closeSync, constants, lstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../wire/atomic';
import { errnoOf } from '../base/errno';

/**
 * Replaced inodes held open at most: a burst of commands that each rewrite
 * status in one turn (a flood of `p` and `c`) frees the older ones at once
 * rather than running out of fds.
 */
export const MAX_RETIRED = 8;

let onPool = false;

/** Replaced inodes are freed on libuv's thread pool from now on (a shared host: many services, one event loop). */
export function freeReplacedOnPool(): void {
  onPool = true;
}

const EMPTY = Buffer.alloc(0);
/** A close of a read-only fd fails only if the fd was not open: nothing to do then. */
const ignore = (): void => {};
/** Reused by readAll: a supervisor reads one small file at a time. */
let readBuf = Buffer.alloc(4096);

/** The whole content of `fd` from offset 0 (a view of a shared buffer: use it before the next call); empty if unreadable. */
function readAll(fd: number): Buffer {
  let n = 0;
  try {
    for (;;) {
      if (n === readBuf.length) readBuf = Buffer.concat([readBuf, Buffer.alloc(readBuf.length)]);
      const got = readSync(fd, readBuf, n, readBuf.length - n, n);
      if (got === 0) break;
      n += got;
    }
  } catch {
    return EMPTY; // a directory, a FIFO without a writer (EAGAIN): nothing a tally can come from
  }
  return readBuf.subarray(0, n);
}

export class ReplacedFile {
  private readonly retired: number[] = [];

  constructor(
    readonly path: string,
    private readonly mode = 0o666,
  ) {}

  /** Atomic, as s6 writes it: readers see the old content or the new. Throws on failure. */
  write(data: Buffer): void {
    const old = this.openCurrent();
    try {
      writeFileAtomic(this.path, data, this.mode);
    } finally {
      if (old >= 0) this.retire(old);
    }
  }

  /**
   * Replaces the file with what `next` makes of its current content (empty
   * if there is none or it cannot be read), read through the fd that keeps
   * the old inode alive anyway: no open, fstat and close of its own. Nothing
   * is written if the content stays the same. Throws on a failed write.
   */
  update(next: (current: Buffer) => Buffer): void {
    const old = this.openCurrent();
    try {
      const current = old >= 0 ? readAll(old) : EMPTY;
      const data = next(current);
      if (old >= 0 && data.equals(current)) return;
      writeFileAtomic(this.path, data, this.mode);
    } finally {
      if (old >= 0) this.retire(old);
    }
  }

  /**
   * Makes the file empty, as a supervisor's start does to death_tally: an
   * empty file already there stays; a missing one is created empty in place,
   * which a reader sees as atomically as a rename (no file, then an empty
   * one), for one inode creation and no rename. Throws on failure.
   */
  clear(): void {
    try {
      closeSync(openSync(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK, this.mode));
      return;
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw err;
    }
    const st = lstatSync(this.path, { throwIfNoEntry: false });
    if (st?.isFile() && st.size === 0) return;
    this.write(Buffer.alloc(0));
  }

  /** Lets go of every fd at once (the supervisor is exiting). */
  close(): void {
    for (const fd of this.retired.splice(0)) closeSync(fd);
  }

  /** The inode now at `path`, so that the rename over it does not free it; -1 if there is none. */
  private openCurrent(): number {
    try {
      // O_NONBLOCK: something planted there (a FIFO) must not block us; O_NOFOLLOW: nor lead us elsewhere.
      return openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return -1;
    }
  }

  private retire(fd: number): void {
    if (this.retired.length >= MAX_RETIRED) closeSync(this.retired.shift()!);
    this.retired.push(fd);
    if (this.retired.length === 1) setImmediate(() => this.closeRetired());
  }

  /** Frees the replaced inodes, on the pool in a shared host. */
  private closeRetired(): void {
    for (const fd of this.retired.splice(0)) {
      if (onPool) close(fd, ignore);
      else closeSync(fd);
    }
  }
}
