// Spawning run and finish as s6 does: in a new session (so the service is its
// own process group), from the service directory, with our environment and
// fds 0-2, plus optional extra fds (the notification pipe, the service lock).
// posix_spawn (vfork-style) rather than libuv's fork(): a node process is big
// enough that fork() was most of a restart's cost. The reaper reaps the child.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { clearNonblock, environStrings, spawnProgram } from '../os/native';
import { ReapedChild } from './mainprocess';
import { errnoText } from '../base/errno';

/**
 * Our environment as the child gets it, converted once: nothing in a
 * supervisor changes process.env, and walking it is a cost on every restart.
 */
let serviceEnv: readonly string[] | undefined;

/** What a service's processes get from their host besides argv: fds 0-2 and the environment. */
export interface ServiceIo {
  /** fds 0-2 (target -> our fd); ours when absent. */
  stdio?: ReadonlyMap<number, number>;
  env?: readonly string[];
}

/** Our environment as services get it by default. */
export function defaultServiceEnv(): readonly string[] {
  return (serviceEnv ??= environStrings(process.env));
}

/**
 * Spawns `./file args...` in `cwd`, fds 0-2 from `io` (ours by default) and
 * `extra` (target -> our fd) placed at their numbers. Returns the process,
 * or undefined if it could not start; `onFailure` then gets the reason
 * (ENOENT, EACCES...).
 */
export function spawnInSession(
  cwd: string,
  file: string,
  args: readonly string[],
  extra: ReadonlyMap<number, number>,
  io: ServiceIo,
  onFailure: (reason: string) => void,
  extras?: SpawnExtras,
): ReapedChild | undefined {
  const path = `./${file}`;
  const fds = io.stdio ? new Map([...io.stdio, ...extra]) : extra;
  const base = io.env ?? defaultServiceEnv();
  const env = extras?.env?.length ? withEnv(base, extras.env) : base;
  // WATCHDOG_PID must be the service's own pid, known only once it runs: a
  // shell sets it and execs the program, which keeps the pid.
  const argv = extras?.ownPidAs
    ? ['/bin/sh', '-c', `${extras.ownPidAs}=$$; export ${extras.ownPidAs}; exec "$0" "$@"`, path, ...args]
    : [path, ...args];
  try {
    // Through the shell, a missing or non-executable program would fail after the spawn (exit 127):
    // check first, so it is the same failed start, retried the same way, as without it.
    if (extras?.ownPidAs) accessSync(join(cwd, path), constants.X_OK);
    blockingStdio(fds);
    return new ReapedChild(spawnProgram({ path: argv[0], argv, env, cwd, fds }));
  } catch (err) {
    onFailure(errnoText(err));
    return undefined;
  }
}

/**
 * A service gets fds 0-2 in blocking mode, as s6 gives them. O_NONBLOCK
 * belongs to the open file description, which the service shares with us,
 * our scanner and every process that inherited it; Node sets it on any pipe
 * or socket it wraps in a stream (our stderr; our stdout too once a
 * NODE_OPTIONS preload or loader touches process.stdout). A producer writing
 * into a non-blocking log pipe gets EAGAIN instead of waiting for its logger,
 * and most programs then drop the line or exit: the logger's back-pressure
 * turns into lost lines. Cleared before every spawn, since a Node process
 * sharing the description may set it again meanwhile.
 */
function blockingStdio(fds: ReadonlyMap<number, number>): void {
  for (const target of [0, 1, 2]) {
    try {
      clearNonblock(fds.get(target) ?? target);
    } catch {
      // Not open: the spawn reports that, not this.
    }
  }
}

/** What a spawn adds for one service: environment entries, and a variable set to the child's pid. */
export interface SpawnExtras {
  /** `NAME=value` entries, replacing any of ours with the same name. */
  env?: readonly string[];
  ownPidAs?: string;
}

function withEnv(base: readonly string[], add: readonly string[]): string[] {
  const names = new Set(add.map((e) => e.slice(0, e.indexOf('=') + 1)));
  return [...base.filter((e) => !names.has(e.slice(0, e.indexOf('=') + 1))), ...add];
}
