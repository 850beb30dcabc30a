// Cloud Foundry's sipid algorithms for start and stop scripts: claim a pid
// file for a process, and kill the process a pid file names. Two guards go
// beyond sipid, both against pid reuse: the "process" a pid file names counts
// only if it started before the file was written, and once checked it is
// held by a pidfd, so the signals reach that process and no later one.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, unlinkSync, writeSync, constants as fsc } from 'node:fs';
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { isAlive, processStartMs } from '../os/proc';
import { pidfdOpen, pidfdSendSignal, pollReadable, tryLockWrite } from '../os/native';
import { parsePid, readPidFile, readSmallFd } from '../os/pidfile';
import { errnoOf } from '../base/errno';

/**
 * How much later than the pid file's mtime a process may seem to have started
 * and still be the one the file was written for. /proc gives start times in
 * 10 ms ticks after boot, and file times come from a coarse clock; the boot
 * time itself (btime) is truncated to the second, which only makes starts
 * look earlier, so that error never causes a refusal.
 */
export const START_TOLERANCE_MS = 250;
/** After QUIT (--show-stacks), time for the process to write its stack dump. */
export const STACK_DUMP_WAIT_MS = 2000;
/** After KILL, how long until a process that has not died is reported. */
export const KILL_WAIT_MS = 10_000;

export type Outcome = { ok: true; message?: string } | { ok: false; refused: string };

/** True if `pid` is alive and started no later than `fileMtimeMs` (so it is the one the file meant). */
export function isOriginalProcess(pid: number, fileMtimeMs: number): boolean {
  const start = processStartMs(pid);
  return start !== null && isAlive(pid) && start <= fileMtimeMs + START_TOLERANCE_MS;
}

/**
 * Writes `pid` and a newline to `pidFile`, under a kernel (OFD) lock on the
 * file so two claims cannot interleave. Refuses if another process holds the
 * lock, or if the file names another live process that it was written for.
 */
export function claimPidFile(pidFile: string, pid: number): Outcome {
  if (!isAlive(pid)) return { ok: false, refused: `process ${pid} does not exist` };
  mkdirSync(dirname(pidFile), { recursive: true });
  const fd = openSync(pidFile, fsc.O_RDWR | fsc.O_CREAT, 0o644);
  try {
    if (!tryLockWrite(fd)) return { ok: false, refused: `pid file ${pidFile} is locked by another process` };
    const old = parsePid(readSmallFd(fd), { lenient: true });
    if (old !== null && old !== pid && isOriginalProcess(old, fstatSync(fd).mtimeMs)) {
      return { ok: false, refused: `pid file ${pidFile} names pid ${old}, which is still running` };
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${pid}\n`, 0);
    fsyncSync(fd);
    return { ok: true };
  } finally {
    closeSync(fd); // releases the lock
  }
}

export interface KillOptions {
  graceMs: number;
  showStacks: boolean;
  /** Progress notes ("did not exit within ..."). */
  note?: (msg: string) => void;
}

/**
 * Stops the process `pidFile` names: TERM, up to `graceMs` for it to exit,
 * QUIT for a stack dump if asked, then KILL; then removes the file.
 *
 * Waiting: the process is usually not our child, so waitpid and SIGCHLD are
 * out. A pidfd becomes readable when its process exits; this one-shot
 * command has nothing else to do meanwhile, so it blocks in poll(2) on the
 * pidfd, bounded by the grace period: woken by the exit itself, with no
 * periodic kill(pid, 0) checks and no threadpool thread.
 */
export function killFromPidFile(pidFile: string, opts: KillOptions): Outcome {
  const snap = snapshotPidFile(pidFile);
  if (snap === null) return { ok: true, message: `pid file ${pidFile} does not exist: nothing to stop` };
  const { pid, mtimeMs } = snap;
  if (pid === null) return { ok: false, refused: `pid file ${pidFile} does not hold a pid: ${JSON.stringify(snap.content)}` };
  let pidfd: number;
  try {
    pidfd = pidfdOpen(pid);
  } catch (err) {
    if (errnoOf(err) !== 'ESRCH') throw err;
    removePidFile(pidFile, pid);
    return { ok: true, message: `process ${pid} is not running` };
  }
  try {
    const start = processStartMs(pid);
    // Still running after that read: the stat read was of the pidfd's process.
    if (pollReadable(pidfd, 0) || start === null) {
      removePidFile(pidFile, pid);
      return { ok: true, message: `process ${pid} is not running` };
    }
    if (start > mtimeMs + START_TOLERANCE_MS) {
      return {
        ok: false,
        refused: `pid ${pid} belongs to a process started ${new Date(start).toISOString()}, after ${pidFile} was written (${new Date(mtimeMs).toISOString()}): a reused pid, not signalling it`,
      };
    }
    if (!stop(pidfd, pid, opts)) return { ok: false, refused: `process ${pid} survived SIGKILL for ${KILL_WAIT_MS} ms` };
    removePidFile(pidFile, pid);
    return { ok: true };
  } finally {
    closeSync(pidfd);
  }
}

/** TERM, grace, [QUIT, short wait], KILL; true once the process has exited. */
function stop(pidfd: number, pid: number, opts: KillOptions): boolean {
  if (!signal(pidfd, 'SIGTERM') || pollReadable(pidfd, opts.graceMs)) return true;
  opts.note?.(`process ${pid} did not exit within ${opts.graceMs} ms of SIGTERM`);
  if (opts.showStacks) {
    opts.note?.(`sending SIGQUIT to ${pid} for a stack dump`);
    if (!signal(pidfd, 'SIGQUIT') || pollReadable(pidfd, STACK_DUMP_WAIT_MS)) return true;
  }
  opts.note?.(`sending SIGKILL to ${pid}`);
  return !signal(pidfd, 'SIGKILL') || pollReadable(pidfd, KILL_WAIT_MS);
}

/** False if the process has already exited. */
function signal(pidfd: number, name: 'SIGTERM' | 'SIGQUIT' | 'SIGKILL'): boolean {
  try {
    pidfdSendSignal(pidfd, constants.signals[name]);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ESRCH') return false;
    throw err;
  }
}

interface PidFileSnapshot {
  pid: number | null;
  content: string;
  mtimeMs: number;
}

/**
 * The pid file's content and mtime as one state, or null if it is missing.
 * Both come from one open file, and a read that a claim's write overlapped
 * (the file's times moved during it) is taken again: an old pid paired with
 * a new mtime would defeat the reuse guard.
 */
function snapshotPidFile(pidFile: string): PidFileSnapshot | null {
  let fd: number;
  try {
    fd = openSync(pidFile, 'r');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    for (let tries = 0; ; tries++) {
      const before = fstatSync(fd, { bigint: true });
      const content = readSmallFd(fd);
      const after = fstatSync(fd, { bigint: true });
      if ((before.ctimeNs === after.ctimeNs && before.size === after.size) || tries === 4) {
        return { pid: parsePid(content, { lenient: true }), content, mtimeMs: Number(after.mtimeNs / 1_000_000n) };
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Removes the pid file, unless it names another pid now: a new claim's file stays. */
function removePidFile(pidFile: string, pid: number): void {
  const now = readPidFile(pidFile, { lenient: true });
  if ('pid' in now && now.pid !== pid) return;
  try {
    unlinkSync(pidFile);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}
