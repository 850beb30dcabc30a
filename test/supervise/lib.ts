// Helpers for the supervise tests: the same scenario runs under tether
// supervise and under Debian's s6-supervise, driven by Debian's s6 clients.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, watch, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { readStatus, type StatusRecord } from '../../src/wire/status';
import { BOUND_MS, HAVE_S6, S6_BIN, TETHER, bounded, exitOf, run, stopSupervisor, waitForFile, type Exit, type Teardown, type RunResult } from '../lib/harness';
import { FifodirListener } from '../../src/wire/fifodir';

export interface SupervisorKind {
  name: 'tether' | 's6';
  cmd: string;
  args: string[];
}

/**
 * TETHER_MODE=shared runs every tether row of these suites under a shared
 * scanner (`tether svscan --shared`) holding just the one service, in place
 * of `tether supervise DIR`: the same scenarios, the other mode.
 */
export const SHARED = process.env.TETHER_MODE === 'shared';
export const TETHER_SUPERVISE: SupervisorKind = { name: 'tether', cmd: process.execPath, args: [TETHER, 'supervise'] };

/** How tether's supervisor warnings start: a shared scanner reports them under its own name. */
export const WARNING = SHARED ? 'tether svscan: warning: ' : 'tether supervise: warning: ';

const scandirs = new WeakMap<ChildProcess, string>();

/**
 * Starts tether's supervisor for `dir`: `tether supervise DIR`, or in
 * shared mode a shared scanner whose scan directory holds only a link to
 * DIR (named after it). The supervisor's own stderr is the child's.
 */
export function spawnTether(dir: string, stdio: StdioOptions): ChildProcess {
  if (!SHARED) return spawn(process.execPath, [TETHER, 'supervise', dir], { stdio });
  const scandir = mkdtempSync(join(tmpdir(), 'tether-shared-'));
  symlinkSync(resolve(dir), join(scandir, basename(dir)));
  const child = spawn(process.execPath, [TETHER, 'svscan', '--shared', scandir], { stdio });
  scandirs.set(child, scandir);
  return child;
}

/**
 * Resolves when the supervisor of `dir` that `child` is or hosts has ended:
 * the process's exit, or in shared mode the hosted supervisor's `x` event
 * (the scanner carries on, and starts a new one). Call it before the `x`.
 */
export function endOf(child: ChildProcess, dir: string): Promise<Exit> {
  if (!scandirs.has(child)) return exitOf(child);
  const events = FifodirListener.subscribe(join(dir, 'event'));
  return bounded(new Promise<Exit>((res) => events.onEvents((bytes) => {
    if (bytes.includes('x')) res({ code: 0, signal: null });
  })), BOUND_MS, `the x event of ${dir}`).finally(() => events.close());
}

/** The directory as run and finish get it: as given, or its name in the shared scanner's scan directory. */
export function dirArg(kind: { cmd: string; args: string[] }, dir: string): string {
  return SHARED && kind.args[0] === TETHER ? basename(dir) : dir;
}

/** Spawns `kind` on `dir`: tether's in the mode the suite runs in. */
export function spawnKind(kind: { cmd: string; args: string[] }, dir: string, stdio: StdioOptions): ChildProcess {
  if (kind.cmd === process.execPath && kind.args[0] === TETHER) return spawnTether(dir, stdio);
  return spawn(kind.cmd, [...kind.args, dir], { stdio });
}

/**
 * Teardown of what spawnKind started. A shared scanner is stopped as a
 * tree (SIGTERM: every service down, then exit), then its scan directory
 * goes; a supervisor process as harness's stopSupervisor does.
 */
export async function stopKind(child: ChildProcess, dir: string): Promise<void> {
  const scandir = scandirs.get(child);
  if (scandir === undefined) return stopSupervisor(child, dir);
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid!, 'SIGTERM');
      await exitOf(child, 15_000);
    } catch {
      // already gone, or stuck: stopSupervisor kills it and what it left
    }
  }
  await stopSupervisor(child, dir);
  rmSync(scandir, { recursive: true, force: true });
}
export const S6_SUPERVISE: SupervisorKind = { name: 's6', cmd: join(S6_BIN, 's6-supervise'), args: [] };

/** Every supervisor the interop scenarios run against: s6's proves the tests. */
export const SUPERVISORS: SupervisorKind[] = HAVE_S6 ? [TETHER_SUPERVISE, S6_SUPERVISE] : [TETHER_SUPERVISE];

export interface Running {
  child: ChildProcess;
  dir: string;
  /** Everything the supervisor wrote on stderr so far. */
  stderr(): string;
  /** Resolves with the first stderr line matching `re`. */
  waitForStderr(re: RegExp, ms?: number): Promise<string>;
  /**
   * Resolves when the supervisor has ended: the process's exit; in shared
   * mode the hosted supervisor's (its `x` event, or the scanner's report of
   * its exit code), since the scanner itself carries on.
   */
  ended(): Promise<Exit>;
  /** The directory as the supervisor's messages name it: as given, or under the shared scanner's scan directory. */
  shown: string;
}

/** Tests of what only a supervisor process has (its own signals, fds, exit): skipped in shared mode. */
export function processOnly(kind: { cmd: string; args: string[] }): string | false {
  return SHARED && kind.args[0] === TETHER ? 'a supervisor process of its own: per-process mode only' : false;
}

/**
 * Starts a supervisor on `dir` and waits until it has written its first
 * status (s6-svok alone can be true before that). At teardown the service is
 * brought down and the supervisor told to exit; anything left is killed by
 * pid: services run in their own session, so killing the supervisor alone
 * would leave them behind.
 */
export async function startSupervisor(t: Teardown, kind: SupervisorKind, dir: string, opts: { waitStatus?: boolean; stdio?: 'pipe' } = {}): Promise<Running> {
  const io = opts.stdio ?? 'ignore';
  const child = spawnKind(kind, dir, [io, io, 'pipe']);
  let err = '';
  const listeners = new Set<() => void>();
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    for (const l of listeners) l();
  });
  t.teardown(() => stopKind(child, dir));
  if (opts.waitStatus !== false) await waitForPath(join(dir, 'supervise', 'status'));
  const stderrLine = (re: RegExp) => new Promise<string>((res) => {
    const check = () => {
      const hit = err.split('\n').find((l) => re.test(l));
      if (hit !== undefined) {
        listeners.delete(check);
        res(hit);
      }
    };
    listeners.add(check);
    check();
  });
  const waitForStderr = (re: RegExp, ms = BOUND_MS) => bounded(stderrLine(re), ms, `stderr matching ${re}`);
  let ended: () => Promise<Exit> = () => exitOf(child);
  if (scandirs.has(child)) {
    // Subscribed now, since an `x` may come before the test asks; the bound starts when it asks.
    const events = opts.waitStatus !== false ? FifodirListener.subscribe(join(dir, 'event')) : undefined;
    t.teardown(() => events?.close());
    let sawX = false;
    const xListeners = new Set<() => void>();
    events?.onEvents((bytes) => {
      if (!bytes.includes('x')) return;
      sawX = true;
      for (const l of xListeners) l();
    });
    const byEvent = new Promise<Exit>((res) => {
      if (sawX) res({ code: 0, signal: null });
      else xListeners.add(() => res({ code: 0, signal: null }));
    });
    ended = () => {
      const byReport = stderrLine(/supervisor for .* exited \d+/).then((line) => ({ code: Number(/exited (\d+)/.exec(line)![1]), signal: null }));
      return bounded(Promise.race([byEvent, byReport]), BOUND_MS, 'the hosted supervisor to end');
    };
  }
  const scandir = scandirs.get(child);
  const shown = scandir === undefined ? dir : join(scandir, basename(dir));
  return { child, dir, stderr: () => err, waitForStderr, ended, shown };
}

export function svc(dir: string, ...args: string[]): Promise<RunResult> {
  return run(join(S6_BIN, 's6-svc'), [...args, dir]);
}

export function svstat(dir: string, ...args: string[]): Promise<RunResult> {
  return run(join(S6_BIN, 's6-svstat'), [...args, dir]);
}

export function s6(tool: string, ...args: string[]): Promise<RunResult> {
  return run(join(S6_BIN, tool), args);
}

/** Resolves once the file at `path` has content matching `re` (watches its directory). */
export function waitForContent(path: string, re: RegExp, ms = BOUND_MS): Promise<string> {
  const read = () => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  let w: FSWatcher | undefined;
  // Closed on timeout too: a watcher left open keeps the test process alive after a failure.
  return bounded(new Promise<string>((res) => {
    const check = () => {
      const text = read();
      if (re.test(text)) {
        res(text);
        return true;
      }
      return false;
    };
    w = watch(dirname(path), (_e, name) => {
      if (name === null || name === basename(path)) check();
    });
    check();
  }), ms, `${path} to match ${re}`).finally(() => w?.close());
}

/**
 * Waits for a condition on /proc, which has no change notification. Checks
 * at growing intervals under a bound; only for facts no event announces.
 */
export async function waitForProc(cond: () => boolean, what: string, ms = BOUND_MS): Promise<void> {
  const end = Date.now() + ms;
  for (let delay = 5; !cond(); delay = Math.min(delay * 2, 200)) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** The pid `supervise/status` shows. */
export function statusPid(dir: string): number {
  return readStatus(dir).pid;
}

/** Like waitForFile, but the directories on the way may not exist yet either. */
export async function waitForPath(path: string, ms = BOUND_MS): Promise<void> {
  const parent = dirname(path);
  if (!existsSync(parent)) await waitForPath(parent, ms);
  await waitForFile(path, ms);
}

/**
 * Resolves once supervise/status satisfies `pred`: for changes no event
 * announces (p, c, P, C). Each status write is a rename, which fs.watch sees.
 */
export function waitForStatus(dir: string, pred: (s: StatusRecord) => boolean, what: string, ms = BOUND_MS): Promise<void> {
  const superviseDir = join(dir, 'supervise');
  const ok = () => {
    try {
      return pred(readStatus(dir));
    } catch {
      return false;
    }
  };
  let w: FSWatcher | undefined;
  return bounded(new Promise<void>((res) => {
    w = watch(superviseDir, () => {
      if (ok()) res();
    });
    if (ok()) res();
  }), ms, `status: ${what}`).finally(() => w?.close());
}
