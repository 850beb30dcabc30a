// Shared mode holds every service's files in one process: the lock, the
// control FIFO, the directory, status and death_tally, its share of a log
// pipe (the scanner's two ends for a pair, and each side's own copy), a
// notification pipe, and an event fifodir and a listener's FIFO while an
// event is sent. Node raises its soft open-files limit to the hard one at
// start-up, which is as far as it goes; if even that is too small for the
// tree, say so before starting anything, rather than fail service by
// service later (EMFILE). The services themselves still get the limit we
// were started with: inherited while the tree fits under it (HostFdLimit),
// else through a shell (supervise/spawn.ts).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openFilesLimits, setSoftOpenFilesLimit } from '../os/rlimit';
import { startedFdLimit } from '../supervise/spawn';

/** fds a hosted service may hold at once, its logger's share of the pipe included. */
const FDS_PER_SERVICE = 12;
/** The scanner's own: its lock and control FIFO, inotify, stdio, libuv's. */
const FDS_BASE = 64;

/** Free fds kept below the limit beyond the budget: transient opens, libuv's threadpool. */
const HEADROOM = 48;

/** Services (loggers counted) in `scandir` now. */
export function countServices(scandir: string): number {
  let n = 0;
  for (const name of readdirSync(scandir)) {
    if (name.startsWith('.')) continue;
    try {
      if (!statSync(join(scandir, name)).isDirectory()) continue;
    } catch {
      continue;
    }
    n++;
    try {
      if (statSync(join(scandir, name, 'log')).isDirectory()) n++;
    } catch {
      // no logger
    }
  }
  return n;
}

/** The one-line reason `services` (loggers counted) cannot be hosted in one process, or undefined if they fit. */
export function fdBudgetProblem(services: number): string | undefined {
  const need = FDS_BASE + FDS_PER_SERVICE * services;
  const limit = openFilesLimits().soft;
  if (need <= limit) return undefined;
  return `the open files limit (${limit}) is too low for ${services} services in one process (about ${need} needed): raise the hard limit (ulimit -Hn, docker --ulimit nofile=...) or drop --shared`;
}

/**
 * A shared host runs at the open-files limit tether was started with while
 * its tree fits under it with room to spare, so that services inherit that
 * limit from it, as from s6-supervise, at no cost per spawn. Once the tree
 * outgrows it, the host goes back to the limit Node raised it to, for good,
 * and services are given theirs through a shell (supervise/spawn.ts), which
 * costs an exec per start and drops environment names that are not shell
 * identifiers. Never lowered below the fds open now.
 */
export class HostFdLimit {
  private readonly raisedTo = openFilesLimits().soft;
  private outgrown = false;
  private lowered = false;

  constructor(private readonly started = startedFdLimit()) {}

  /** Call before `services` (loggers counted) are hosted at once. */
  hosting(services: number): void {
    if (this.started === undefined || this.outgrown || this.started >= this.raisedTo) return;
    try {
      if (FDS_BASE + FDS_PER_SERVICE * services + HEADROOM <= this.started) {
        if (!this.lowered) this.lower();
        return;
      }
      this.outgrown = true;
      if (this.lowered) setSoftOpenFilesLimit(this.raisedTo);
    } catch {
      // setrlimit fails only above a hard limit lowered since: children keep ours.
      this.outgrown = true;
    }
  }

  private lower(): void {
    this.lowered = true;
    // Inherited fds count too: lower only with room left below the limit.
    if (readdirSync('/proc/self/fd').length + HEADROOM > (this.started ?? 0)) {
      this.outgrown = true;
      return;
    }
    setSoftOpenFilesLimit(this.started ?? this.raisedTo);
  }
}
