// Is a supervisor alive on this directory? It is if someone holds a write
// lock on supervise/lock, which s6-supervise and tether supervise take at
// start and keep for life.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadNative } from '../os/lazy';
import { errnoOf } from '../base/errno';

export function lockPath(dir: string): string {
  return join(dir, 'supervise', 'lock');
}

/**
 * True if a supervisor holds the lock of `dir`; false if nobody does or the
 * lock file does not exist. Other errors (EACCES...) are thrown.
 */
export function isSupervised(dir: string, locks?: LockTable): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath(dir), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw err;
  }
  try {
    if ((locks ?? LockTable.read()).hasWriteLock(fd)) return true;
    // Not listed: the holder may be in another pid namespace, where
    // /proc/locks hides its POSIX locks. Only fcntl(F_GETLK) can tell.
    return loadNative().isLocked(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The POSIX and OFD write locks of /proc/locks, by device and inode. A hit
 * is certain; a miss is checked with fcntl. flock(2) locks are left out:
 * s6 cannot see them, so they do not make a supervisor.
 */
export class LockTable {
  private constructor(private readonly keys: ReadonlySet<string>) {}

  static read(): LockTable {
    let text = '';
    try {
      text = readFileSync('/proc/locks', 'latin1');
    } catch {
      // no procfs: every question goes to fcntl
    }
    const keys = new Set<string>();
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      // "N: POSIX ADVISORY WRITE pid maj:min:ino start end"; waiters have "->".
      if (f.length < 6 || f[1] === '->' || (f[1] !== 'POSIX' && f[1] !== 'OFDLCK') || f[3] !== 'WRITE') continue;
      const [maj, min, ino] = f[5].split(':');
      if (ino === undefined) continue;
      keys.add(`${parseInt(maj, 16)}:${parseInt(min, 16)}:${ino}`);
    }
    return new LockTable(keys);
  }

  hasWriteLock(fd: number): boolean {
    if (this.keys.size === 0) return false;
    const st = fstatSync(fd, { bigint: true });
    // Userspace dev_t encoding (glibc's major()/minor()).
    const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
    const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
    return this.keys.has(`${major}:${minor}:${st.ino}`);
  }
}
