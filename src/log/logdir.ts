// A log directory: `current` takes timestamped lines; when it would grow past
// the size limit it is renamed to `@TAI64N.s` and the oldest archives beyond
// the count are removed. A lock on DIR/lock keeps two loggers apart.
import {
  chmodSync, closeSync, constants, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { tryLockWrite } from '../os/native';
import { formatTain, tainNow, type Tain } from '../wire/tain';

export interface LogDirOptions {
  /** Archived files kept beside `current`; 0 keeps none. */
  maxFiles: number;
  /** `current` is rotated before it grows past this many bytes. */
  maxSize: number;
}

export class LogDirBusyError extends Error {}

const ARCHIVE = /^@[0-9a-f]{24}\.[su]$/;

export class LogDir {
  private fd = -1;
  private size = 0;
  private lockFd = -1;
  private lastArchive: Tain | null = null;

  constructor(readonly dir: string, private readonly opts: LogDirOptions) {}

  open(): void {
    mkdirSync(this.dir, { recursive: true });
    this.lockFd = openSync(join(this.dir, 'lock'), constants.O_RDWR | constants.O_CREAT, 0o644);
    if (!tryLockWrite(this.lockFd)) throw new LogDirBusyError(`another logger is using ${this.dir}`);
    this.openCurrent();
  }

  /**
   * Appends whole lines (each ending in \n), rotating before a line that would
   * not fit. Lines are removed from `lines` as they reach the file, so after a
   * failure the caller retries exactly what is left.
   */
  writeLines(lines: Buffer[]): void {
    while (lines.length > 0) {
      let count = 0;
      let bytes = 0;
      while (count < lines.length && (this.size + bytes + lines[count].length <= this.opts.maxSize || this.size + bytes === 0)) {
        bytes += lines[count].length;
        count++;
      }
      if (count === 0) {
        this.rotate();
        continue;
      }
      this.writeAll(count === 1 ? lines[0] : Buffer.concat(lines.slice(0, count), bytes));
      lines.splice(0, count);
    }
  }

  private writeAll(data: Buffer): void {
    let off = 0;
    while (off < data.length) {
      const n = writeSync(this.fd, data, off);
      off += n;
      this.size += n;
    }
  }

  /** Archives `current` (if it has anything) and starts a new one. */
  rotate(): void {
    if (this.size === 0) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    const current = join(this.dir, 'current');
    // Executable marks a complete archive, as s6-log does.
    chmodSync(current, 0o744);
    renameSync(current, join(this.dir, `${this.archiveStamp()}.s`));
    this.openCurrent();
    this.prune();
  }

  /** Everything written so far is on disk. */
  flush(): void {
    if (this.fd >= 0) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Archive names must sort in order and never collide, even within one ms. */
  private archiveStamp(): string {
    let t = tainNow();
    const last = this.lastArchive;
    if (last && (t.secs < last.secs || (t.secs === last.secs && t.nano <= last.nano))) {
      t = last.nano < 999_999_999 ? { secs: last.secs, nano: last.nano + 1 } : { secs: last.secs + 1, nano: 0 };
    }
    this.lastArchive = t;
    return formatTain(t);
  }

  private openCurrent(): void {
    this.fd = openSync(join(this.dir, 'current'), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
    this.size = fstatSync(this.fd).size;
  }

  private prune(): void {
    const archives = readdirSync(this.dir).filter((n) => ARCHIVE.test(n)).sort();
    for (const name of archives.slice(0, Math.max(0, archives.length - this.opts.maxFiles))) {
      try {
        unlinkSync(join(this.dir, name));
      } catch {
        // someone else removed it
      }
    }
  }
}
