// Spawning run and finish as s6 does: in a new session (so the service is its
// own process group), from the service directory, with our environment and
// fds 0-2, plus optional extra fds (the notification pipe, the service lock).
// posix_spawn (vfork-style) rather than libuv's fork(): a node process is big
// enough that fork() was most of a restart's cost. The reaper reaps the child.
// Children get the open-files limit that tether was started with, not the one
// Node raised ours to (see startedFdLimit).
import { accessSync, constants, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { clearNonblock, environStrings, spawnProgram } from '../os/native';
import { openFilesLimits, setSoftOpenFilesLimit } from '../os/rlimit';
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

/** Our environment as services get it by default: s6 adds nothing to it, so neither do we (STARTED_FDLIMIT_VAR). */
export function defaultServiceEnv(): readonly string[] {
  return (serviceEnv ??= environStrings(process.env).filter((e) => !e.startsWith(`${STARTED_FDLIMIT_VAR}=`)));
}

/**
 * Where bin/tether.js, run as a command, records `ulimit -Sn` before it
 * execs node, which raises its own soft limit to the hard one before any of
 * our code runs. A supervisor that svscan starts as `node bin/tether.js`
 * inherits it from svscan. Services never see it: a tether started by a
 * service records its own limit afresh, and a stale value from an outer
 * tree would be wrong where the service changed its limit.
 */
export const STARTED_FDLIMIT_VAR = 'TETHER_NOFILE';

/** Our environment as an object, as services get it: for programs spawned through child_process. */
export function serviceEnvObject(): NodeJS.ProcessEnv {
  return { ...process.env, [STARTED_FDLIMIT_VAR]: undefined };
}

/** The soft open-files limit tether was started with, if bin/tether.js recorded it. */
export function startedFdLimit(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[STARTED_FDLIMIT_VAR];
  if (v === 'unlimited') return Infinity;
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}

/** The limit children must be given by hand: the started one, where ours differs from it. */
export function childFdLimit(): number | undefined {
  const started = startedFdLimit();
  if (started === undefined) return undefined;
  const { soft, hard } = openFilesLimits();
  // Above the hard limit (lowered since) nobody can set it: children keep ours.
  return started === soft || started > hard ? undefined : started;
}

/**
 * Free fds below the limit that a supervisor keeps for itself beyond those
 * open when it starts (node's own, about 15): its lock, control FIFO, status
 * and event writes, notification pipe and pidfds take about 10 more.
 */
const OWN_FDS_HEADROOM = 48;

/**
 * Per-process supervise: set our own soft limit back to the started one, as
 * s6-supervise runs at it, so that run and finish inherit it at no cost.
 * Where that would leave too few fds for ourselves (a tiny limit, or many
 * inherited fds), we keep ours and children get it through a shell instead.
 */
export function runAtStartedFdLimit(): void {
  const limit = childFdLimit();
  if (limit === undefined) return;
  const below = readdirSync('/proc/self/fd').filter((name) => Number(name) < limit).length;
  if (limit - below < OWN_FDS_HEADROOM) return;
  try {
    setSoftOpenFilesLimit(limit);
  } catch {
    // Children are given it one by one instead (childFdLimit still differs).
  }
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
  const shell = shellSteps(extras?.ownPidAs);
  const argv = shell ? ['/bin/sh', '-c', `${shell}exec "$0" "$@"`, path, ...args] : [path, ...args];
  try {
    // Through the shell, a missing or non-executable program would fail after the spawn (exit 127):
    // check first, so it is the same failed start, retried the same way, as without it.
    if (shell) accessSync(join(cwd, path), constants.X_OK);
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

/**
 * What only a shell between us and the program can do, or '' if nothing:
 * the started open-files limit (posix_spawn has no rlimit attribute, and
 * lowering ours around the spawn would fail another thread's open() with
 * EMFILE in a host holding thousands of fds), and WATCHDOG_PID, which must
 * be the service's own pid, known only once it runs. exec keeps the pid.
 */
function shellSteps(ownPidAs: string | undefined): string {
  const steps = fdLimitShellStep();
  return ownPidAs ? `${steps}${ownPidAs}=$$; export ${ownPidAs}; ` : steps;
}

/** `argv` run through a shell that first gives it the started open-files limit, where ours differs from it. */
export function atStartedFdLimit(argv: readonly string[]): string[] {
  const step = fdLimitShellStep();
  return step ? ['/bin/sh', '-c', `${step}exec "$0" "$@"`, ...argv] : [...argv];
}

/** The shell command (with its `; `) that gives a child the started limit, or '' if it inherits it from us. */
function fdLimitShellStep(): string {
  const limit = childFdLimit();
  return limit === undefined ? '' : `ulimit -Sn ${limit === Infinity ? 'unlimited' : limit}; `;
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
