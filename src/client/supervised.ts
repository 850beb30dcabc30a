// Is a supervisor alive on this directory? It is if someone holds a write
// lock on supervise/lock, which s6-supervise and tether supervise take at
// start and keep for life: Debian's s6-svok and s6-svstat (2.11) ask with
// fcntl(F_GETLK). Asking that way needs the native module, about a tenth of
// a client's start-up, so the common answer comes from the control FIFO.
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { loadNative } from '../os/lazy';
import { errnoOf } from '../base/errno';

/**
 * Why nobody supervises `dir`, in the one form every client prints: it
 * names the directory and says whether it is missing, is no service
 * directory, or has no supervisor running. Each client keeps its own exit
 * code (the newest s6's).
 */
export function notSupervised(dir: string): string {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = errnoOf(err);
    return code === 'ENOENT' || code === 'ENOTDIR' ? `not supervised: ${dir} does not exist` : `not supervised: ${dir} cannot be reached (${code ?? err})`;
  }
  if (!isDir || !(existsSync(join(dir, 'run')) || existsSync(join(dir, 'supervise')))) {
    return `not supervised: ${dir} is not a service directory (no run file)`;
  }
  return `not supervised: no supervisor is running on ${dir}`;
}

export function lockPath(dir: string): string {
  return join(dir, 'supervise', 'lock');
}

/**
 * True if a supervisor holds the lock of `dir`; false if nobody does or the
 * lock file does not exist. Other errors (EACCES...) are thrown.
 *
 * A supervisor (s6's or ours) keeps supervise/control open for reading from
 * just after it takes the lock until it exits, so a FIFO that opens for
 * writing without blocking means one runs: no native code, no lock table.
 * Only when nobody reads it (ENXIO), or it is missing, is the lock asked
 * about, exactly as s6 does; that also covers a supervisor between taking
 * its lock and opening its FIFO.
 */
export function isSupervised(dir: string, locks?: LockTable): boolean {
  if (controlHasReader(dir)) return true;
  let fd: number;
  try {
    fd = openSync(lockPath(dir), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw err;
  }
  try {
    if (locks?.hasWriteLock(fd)) return true;
    // Not listed, or not asked: the holder may be in another pid namespace,
    // where /proc/locks hides its POSIX locks. Only fcntl(F_GETLK) can tell.
    return loadNative().isLocked(fd);
  } finally {
    closeSync(fd);
  }
}

/** supervise/control is a FIFO with a reader. Opening it writes nothing, and a supervisor keeps its own write end, so it sees no EOF. */
function controlHasReader(dir: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(dir, 'supervise', 'control'), constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch {
    return false; // ENXIO: no reader; ENOENT, ELOOP...: the lock decides
  }
  try {
    return fstatSync(fd).isFIFO();
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
  private keys: ReadonlySet<string> | undefined;

  /**
   * Reading /proc/locks takes the kernel's file-lock rwsem for writing, which
   * waits for an RCU grace period (milliseconds of wall time), so the table
   * is read on the first question, if one comes.
   */
  static read(): LockTable {
    return new LockTable();
  }

  private static load(): ReadonlySet<string> {
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
    return keys;
  }

  hasWriteLock(fd: number): boolean {
    this.keys ??= LockTable.load();
    if (this.keys.size === 0) return false;
    const st = fstatSync(fd, { bigint: true });
    // Userspace dev_t encoding (glibc's major()/minor()).
    const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
    const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
    return this.keys.has(`${major}:${minor}:${st.ino}`);
  }
}
