// Pid files: the contract between a self-backgrounding daemon and whoever
// watches it. The parent forks, the child is the daemon, the parent writes
// the child's pid and a newline, then exits. The newline is what tells a
// reader the write is complete: "12" may be the first half of "1234\n".
import { closeSync, existsSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { procStat } from './proc';
import { reaper } from './reaper';
import { errnoOf } from '../base/errno';

/** How long to wait for a pid file written late, when nothing else bounds it (s6's timeout-ready default). */
export const DEFAULT_PIDFILE_WAIT_MS = 5000;
/** s6's limit for the `pidfile` file; a pid file is far smaller. */
export const PIDFILE_MAX_BYTES = 512;

export type PidFileRead =
  | { pid: number }
  | { error: 'missing'; content: '' }
  | { error: 'garbage'; content: string };

export interface PidFileOptions {
  /** Ends a wait early (the service was told to go down, say); the wait resolves with what it last saw. */
  signal?: AbortSignal;
  /**
   * Strict (the default): exactly decimal digits and one newline. Lenient
   * also accepts surrounding blanks and no newline, as supervisord's pidproxy
   * and sipid readers do, for files written by tools outside this contract.
   */
  lenient?: boolean;
}

/** Reads a pid file; never throws for a missing or malformed file. */
export function readPidFile(path: string, opts: PidFileOptions = {}): PidFileRead {
  let text: string;
  try {
    text = readSmall(path);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { error: 'missing', content: '' };
    throw err;
  }
  const pid = parsePid(text, opts);
  return pid === null ? { error: 'garbage', content: text } : { pid };
}

/** The pid a pid file's text names, or null if the text is not one. */
export function parsePid(text: string, opts: PidFileOptions = {}): number | null {
  if (text.length >= PIDFILE_MAX_BYTES) return null;
  const m = (opts.lenient ? /^\s*([0-9]+)\s*$/ : /^([0-9]+)\n$/).exec(text);
  if (!m) return null;
  const pid = Number(m[1]);
  // 0 and 1 would be disastrous to signal (0 is our own process group).
  return pid > 1 && pid <= 0x3fffffff ? pid : null;
}

function readSmall(path: string): string {
  const fd = openSync(path, 'r');
  try {
    return readSmallFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Up to PIDFILE_MAX_BYTES of an open pid file, from its start. */
export function readSmallFd(fd: number): string {
  const buf = Buffer.alloc(PIDFILE_MAX_BYTES);
  let n = 0;
  while (n < buf.length) {
    const got = readSync(fd, buf, n, buf.length - n, n);
    if (got === 0) break;
    n += got;
  }
  return buf.toString('latin1', 0, n);
}

/**
 * True if `pid` is a child of this process, alive or an unreaped zombie.
 * An unreaped child's pid cannot be reused, so a pid that passes this check
 * really is the process that was forked, not a stranger that got its number.
 */
export function isOwnChild(pid: number): boolean {
  return procStat(pid)?.ppid === process.pid;
}

/** True if `pid` descends from this process (its parent chain reaches us). */
export function isOwnDescendant(pid: number): boolean {
  let cur = procStat(pid);
  for (let hops = 0; cur !== null && hops < 4096; hops++) {
    if (cur.ppid === process.pid) return true;
    if (cur.ppid <= 1) return false;
    cur = procStat(cur.ppid);
  }
  return false;
}

/**
 * Resolves true once `path` exists, false if `timeoutMs` passes first. It
 * watches the directory (inotify through fs.watch), so it wakes on the
 * creation itself; it never re-checks on a timer.
 */
export function waitForFile(path: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  return waitForPidFileState(path, timeoutMs, () => existsSync(path), signal).then((r) => r.ok);
}

/**
 * Waits until `path` holds a complete pid (strict: digits and a newline) and
 * resolves with it, or with the last thing seen once `timeoutMs` passes. A
 * daemon that creates the file and then writes it is seen at its last write.
 */
export async function waitForPidFile(path: string, timeoutMs: number, opts: PidFileOptions = {}): Promise<PidFileRead> {
  let last: PidFileRead = { error: 'missing', content: '' };
  await waitForPidFileState(path, timeoutMs, () => {
    last = readPidFile(path, opts);
    return 'pid' in last;
  }, opts.signal);
  return last;
}

function waitForPidFileState(path: string, timeoutMs: number, done: () => boolean, signal?: AbortSignal): Promise<{ ok: boolean }> {
  if (done() || signal?.aborted) return Promise.resolve({ ok: done() });
  return new Promise((resolve, reject) => {
    const name = basename(path);
    let finished = false;
    const finish = (ok: boolean, err?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve({ ok });
    };
    const onAbort = () => finish(done());
    signal?.addEventListener('abort', onAbort);
    const timer = setTimeout(() => finish(done()), Math.max(0, timeoutMs));
    let watcher: FSWatcher | undefined;
    let watching = '';
    // Watches the pid file's directory or, while that does not exist yet (a
    // daemon that makes its own run directory), its nearest existing ancestor.
    const arm = () => {
      let dir = dirname(path);
      while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
      if (dir === watching) return;
      watcher?.close();
      watching = dir;
      const target = dir === dirname(path);
      watcher = watch(dir, (_event, file) => {
        // Some events carry no name; re-check then too.
        if (target && file !== null && file !== name) return;
        try {
          if (done()) finish(true);
          else if (!target) {
            arm();
            if (done()) finish(true); // written before the new watch was set
          }
        } catch (err) {
          finish(false, err);
        }
      });
      watcher.on('error', (err) => finish(false, err));
    };
    try {
      // Watch before the second check, so a file created in between is not missed.
      arm();
    } catch (err) {
      return finish(false, err);
    }
    try {
      if (done()) finish(true);
    } catch (err) {
      finish(false, err);
    }
  });
}

export type DaemonPid =
  /** Our child; `wstat` is set if it already died and this process reaped it. */
  | { pid: number; wstat?: number }
  | { error: 'missing' | 'garbage' | 'foreign'; content: string };

export interface AcceptOptions {
  signal?: AbortSignal;
  /**
   * The wait status this process reaped for `pid`, if it did: a daemon that
   * died before its pid file was read was our child, so it is accepted, with
   * that status. A pid that is our child or descendant now is a newer
   * process than any status remembered under its number, and wins.
   */
  reapedStatus?: (pid: number) => number | undefined;
}

/**
 * The pid-file step of adopting a daemon, after its parent exited 0: waits
 * (bounded, fs.watch) for a complete pid file, then accepts the pid only if
 * that process is our own child (alive, unreaped, or reaped by us already).
 * A descendant that is not our child yet (a double fork whose middle
 * process has not exited) is waited for, within the same bound: its middle
 * process's death, a SIGCHLD of ours, hands it to us. Anything else is
 * 'foreign': a stale file, or a pid reused by a stranger.
 */
export async function acceptDaemonPid(path: string, timeoutMs: number, opts: AcceptOptions = {}): Promise<DaemonPid> {
  const deadline = Date.now() + timeoutMs;
  const read = await waitForPidFile(path, timeoutMs, { signal: opts.signal });
  if ('error' in read) return read;
  const judged = judgeDaemonPid(read.pid, opts);
  if (judged !== 'not yet') return judged;
  await untilChildOrDeadline(read.pid, deadline - Date.now(), opts.signal);
  const last = judgeDaemonPid(read.pid, opts);
  return last === 'not yet' ? foreign(read.pid) : last;
}

function judgeDaemonPid(pid: number, opts: AcceptOptions): DaemonPid | 'not yet' {
  // A pid that is ours now is newer than any status remembered under its number.
  if (isOwnChild(pid)) return { pid };
  if (isOwnDescendant(pid)) return 'not yet';
  const wstat = opts.reapedStatus?.(pid);
  return wstat === undefined ? foreign(pid) : { pid, wstat };
}

const foreign = (pid: number): DaemonPid => ({ error: 'foreign', content: `${pid}\n` });

/**
 * Resolves when `pid` has become our child, at a SIGCHLD (the reaper calls
 * us after its own reaping), or when `ms` pass. A middle process that is not
 * our child gives no SIGCHLD here: the deadline's last look covers that
 * rarer shape.
 */
function untilChildOrDeadline(pid: number, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stopListening();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const onChild = () => {
      const ppid = procStat(pid)?.ppid;
      if (ppid === undefined || ppid === process.pid) done();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    const stopListening = reaper.afterSigchld(onChild);
    signal?.addEventListener('abort', done);
    if (signal?.aborted) done();
  });
}

/** A one-line description of a refused pid file, naming the file and its content. */
export function describePidFileError(path: string, r: Exclude<DaemonPid, { pid: number }>, waitedMs?: number): string {
  switch (r.error) {
    case 'missing':
      return `pid file ${path} does not exist${waitedMs === undefined ? '' : ` after ${waitedMs} ms`}`;
    case 'garbage':
      // 0 and 1 parse as numbers but are refused: say why, not that the file is unreadable.
      if (/^\s*[01]\s*$/.test(r.content)) return `pid file ${path} names pid ${r.content.trim()}, which no daemon can be: ${JSON.stringify(r.content)}`;
      return `pid file ${path} does not hold a pid and a newline: ${JSON.stringify(r.content)}`;
    case 'foreign':
      return `pid file ${path} names pid ${r.content.trim()}, which is not a child of this process (a stale file or a reused pid)`;
  }
}
