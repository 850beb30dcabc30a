// The program a wrapper (background-watch, pidproxy) runs: started with
// posix_spawn rather than libuv, so a wrapper never loads child_process and
// net (about 0.6 MiB of a process that only waits), and reaped by the same
// reaper that reaps the daemon it adopts.
import { spawnProgram } from '../os/native';
import { reaper } from '../os/reaper';
import { errnoOf } from '../base/errno';

/**
 * Runs `argv` as our child, in our process group, with our environment,
 * working directory and fds 0-2; a bare name is looked up in PATH. Calls
 * `onExit` with the raw wait status. Throws on a failed exec, with the errno
 * name as `code` (ENOENT, EACCES...). The reaper must be started.
 */
export function startForeground(argv: readonly string[], onExit: (wstat: number) => void): number {
  const pid = spawnProgram({
    path: argv[0],
    argv,
    env: process.env,
    fds: new Map(),
    newSession: false,
    searchPath: !argv[0].includes('/'),
  });
  reaper.watch(pid, (_pid, wstat) => onExit(wstat));
  return pid;
}

/** 127 when the program does not exist, 126 when it cannot be run: the shell's codes. */
export function execFailureCode(err: unknown): number {
  return errnoOf(err) === 'ENOENT' ? 127 : 126;
}
