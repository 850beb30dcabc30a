// Spawning run and finish as s6 does: in a new session (so the service is its
// own process group), from the service directory, with our environment and
// fds 0-2, plus optional extra fds (the notification pipe, the service lock).
// posix_spawn (vfork-style) rather than libuv's fork(): a node process is big
// enough that fork() was most of a restart's cost. The reaper reaps the child.
import { environStrings, spawnProgram } from '../os/native';
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
): ReapedChild | undefined {
  const path = `./${file}`;
  const fds = io.stdio ? new Map([...io.stdio, ...extra]) : extra;
  try {
    return new ReapedChild(spawnProgram({ path, argv: [path, ...args], env: io.env ?? defaultServiceEnv(), cwd, fds }));
  } catch (err) {
    onFailure(errnoText(err));
    return undefined;
  }
}
