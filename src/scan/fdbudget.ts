// Shared mode holds every service's files in one process: the lock, the
// control FIFO (two fds), the directory, status and death_tally, a log pipe,
// a notification pipe, and the scanner's own listener on its events (two
// fds, for its restart count). Node raises its soft open-files limit to the
// hard one at start-up, which is as far as it goes; if even that is too small
// for the tree, say so before starting anything, rather than fail service by
// service later (EMFILE). The services themselves still get the limit we
// were started with (supervise/spawn.ts).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openFilesLimits } from '../os/rlimit';

/** fds a hosted service may hold at once, its logger's share of the pipe included. */
const FDS_PER_SERVICE = 14;
/** The scanner's own: its lock and control FIFO, inotify, stdio, libuv's. */
const FDS_BASE = 64;

/** Services (loggers counted) in `scandir` now. */
function countServices(scandir: string): number {
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

/** The one-line reason the tree cannot be hosted in one process, or undefined if it fits. */
export function fdBudgetProblem(scandir: string): string | undefined {
  const services = countServices(scandir);
  const need = FDS_BASE + FDS_PER_SERVICE * services;
  const limit = openFilesLimits().soft;
  if (need <= limit) return undefined;
  return `the open files limit (${limit}) is too low for ${services} services in one process (about ${need} needed): raise the hard limit (ulimit -Hn, docker --ulimit nofile=...) or drop --shared`;
}
