// Helpers for the supervise tests: the same scenario runs under tether
// supervise and under Debian's s6-supervise, driven by Debian's s6 clients.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readStatus, type StatusRecord } from '../../src/wire/status';
import { BOUND_MS, HAVE_S6, S6_BIN, TETHER, bounded, run, stopSupervisor, waitForFile, type Teardown, type RunResult } from '../lib/harness';

export interface SupervisorKind {
  name: 'tether' | 's6';
  cmd: string;
  args: string[];
}

export const TETHER_SUPERVISE: SupervisorKind = { name: 'tether', cmd: process.execPath, args: [TETHER, 'supervise'] };
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
  const child = spawn(kind.cmd, [...kind.args, dir], { stdio: [io, io, 'pipe'] });
  let err = '';
  const listeners = new Set<() => void>();
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    for (const l of listeners) l();
  });
  t.teardown(() => stopSupervisor(child, dir));
  if (opts.waitStatus !== false) await waitForPath(join(dir, 'supervise', 'status'));
  return {
    child,
    dir,
    stderr: () => err,
    waitForStderr: (re, ms = BOUND_MS) => bounded(new Promise<string>((res) => {
      const check = () => {
        const hit = err.split('\n').find((l) => re.test(l));
        if (hit !== undefined) {
          listeners.delete(check);
          res(hit);
        }
      };
      listeners.add(check);
      check();
    }), ms, `stderr matching ${re}`),
  };
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
