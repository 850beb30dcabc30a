// Spawning run and finish as s6 does: in a new session (so the service is its
// own process group), from the service directory, with our environment and
// fds 0-2, plus optional extra fds (the notification pipe, the service lock).
import { accessSync, constants } from 'node:fs';
import type { StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { reaper } from '../os/reaper';
import { SpawnedProcess } from './mainprocess';

/** fds 0-2 inherited, `extra` placed at their numbers, every other fd closed. */
export function buildStdio(extra: ReadonlyMap<number, number>): StdioOptions {
  const top = Math.max(2, ...extra.keys());
  const stdio: (number | 'inherit' | 'ignore')[] = [];
  for (let fd = 0; fd <= top; fd++) stdio.push(extra.get(fd) ?? (fd <= 2 ? 'inherit' : 'ignore'));
  return stdio;
}

/**
 * Spawns `./file args...` in `cwd`. Returns the process, or undefined if it
 * could not start; `onFailure` then gets the reason (at once when we can tell
 * beforehand, which covers a missing or non-executable file, otherwise on the
 * next tick, when node reports it).
 */
export function spawnInSession(
  cwd: string,
  file: string,
  args: readonly string[],
  extra: ReadonlyMap<number, number>,
  onFailure: (reason: string) => void,
): SpawnedProcess | undefined {
  try {
    accessSync(join(cwd, file), constants.X_OK);
  } catch (err) {
    onFailure((err as NodeJS.ErrnoException).code ?? String(err));
    return undefined;
  }
  const child = reaper.spawn(`./${file}`, args, { cwd, detached: true, stdio: buildStdio(extra) });
  if (child.pid === undefined) {
    child.once('error', (err: NodeJS.ErrnoException) => onFailure(err.code ?? err.message));
    return undefined;
  }
  return new SpawnedProcess(child as typeof child & { pid: number });
}
