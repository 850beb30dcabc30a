// Shared test plumbing: temp dirs, processes killed by pid at teardown, and
// bounded waits on events. No test sleeps for a fixed time or kills by name.
import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, watch, writeFileSync } from 'node:fs';
import { remove } from 'fs-extra';
import { tmpdir } from 'node:os';
import { decodeStatus } from '../../src/wire/status';
import { dirname, join, resolve } from 'node:path';

/** The checkout: tests run compiled from build/test/, so look for package.json. */
export const ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = resolve(dir, '..');
  return dir;
})();
export const TETHER = join(ROOT, 'bin', 'tether.js');
/** Generous: the machines are small and shared; a bound is a safety net, not a goal. */
export const BOUND_MS = 30_000;

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export function tempDir(t: Teardown, prefix = 'tether-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => remove(dir));
  return dir;
}

/** Writes an executable script. */
export function writeScript(path: string, body: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body.startsWith('#!') ? body : `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/** Makes a service directory with a `run` script and any other files. */
export function makeService(dir: string, run: string, files: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeScript(join(dir, 'run'), run);
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    if (name === 'finish' || name.endsWith('/run') || name.endsWith('/finish')) writeScript(p, content);
    else writeFileSync(p, content);
  }
  return dir;
}

/** Spawns a long-running process; at teardown it is killed by pid and reaped. */
export function startProcess(t: Teardown, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  t.teardown(() => killAndWait(child));
  return child;
}

/** Starts `tether ARGS...` as a long-running process (a supervisor, a scanner). */
export function startTether(t: Teardown, args: string[], opts: SpawnOptions = {}): ChildProcess {
  return startProcess(t, process.execPath, [TETHER, ...args], opts);
}

export async function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = exitOf(child);
  try {
    process.kill(child.pid, signal);
  } catch {
    return;
  }
  await exited;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when `child` exits; rejects if that takes longer than `ms`. */
export function exitOf(child: ChildProcess, ms = BOUND_MS): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return bounded(new Promise((res) => child.once('exit', (code, signal) => res({ code, signal }))), ms, `exit of pid ${child.pid}`);
}

export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, with a bound. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = execFile(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeout ?? BOUND_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        if (err.killed) rej(new Error(`${cmd} ${args.join(' ')}: timed out (${stderr})`));
        else if (err.code === undefined && err.signal) res({ code: 128, stdout, stderr });
        else rej(err);
        return;
      }
      res({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs `tether ARGS...` to completion. */
export function tether(args: string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  return run(process.execPath, [TETHER, ...args], opts);
}

/**
 * Resolves once `path` exists, watching its directory (no polling); a
 * directory that does not exist yet is waited for first, the same way.
 */
export async function waitForFile(path: string, ms = BOUND_MS): Promise<void> {
  if (existsSync(path)) return;
  const parent = dirname(path);
  if (!existsSync(parent)) await waitForFile(parent, ms);
  await bounded(new Promise<void>((res) => {
    const w = watch(parent, () => {
      if (existsSync(path)) {
        w.close();
        res();
      }
    });
    if (existsSync(path)) {
      w.close();
      res();
    }
  }), ms, `file ${path}`);
}

/** Resolves with the first line `child` writes to stdout matching `re`. */
export function waitForOutput(child: ChildProcess, re: RegExp, ms = BOUND_MS, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
  const s = child[stream];
  if (!s) throw new Error(`${stream} is not a pipe`);
  return bounded(new Promise<string>((res) => {
    let acc = '';
    const on = (chunk: Buffer) => {
      acc += chunk.toString();
      const lines = acc.split('\n');
      acc = lines.pop() ?? '';
      const hit = lines.find((l) => re.test(l));
      if (hit !== undefined) {
        s.off('data', on);
        res(hit);
      }
    };
    s.on('data', on);
  }), ms, `output matching ${re}`);
}

/** True if `pid` names a live (not zombie) process. */
export function alive(pid: number): boolean {
  try {
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'latin1') as string;
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids of zombies whose parent is `ppid`. */
export function zombiesOf(ppid: number): number[] {
  const fs = require('node:fs') as typeof import('node:fs');
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * The zombies of `ppid` still there after it had up to `ms` to reap them
 * ([] as soon as there are none): a parent reaps on its next turn after the
 * SIGCHLD, which may come after whatever event the test waited on.
 */
export async function zombiesLeft(ppid: number, ms = BOUND_MS): Promise<number[]> {
  const end = Date.now() + ms;
  let left = zombiesOf(ppid);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    left = zombiesOf(ppid);
  }
  return left;
}

/** Where Debian's s6 binaries are; interop tests skip cleanly if absent. */
export const S6_BIN = '/usr/bin';
export const HAVE_S6 = existsSync(join(S6_BIN, 's6-supervise'));

/**
 * Teardown for a supervisor of `dir` (tether's or s6's): `s6-svc -dx` and
 * wait for it to exit, SIGKILL it if it will not; then, since the service
 * runs in its own session and outlives a killed supervisor, SIGKILL the
 * service's process group by the pid its status names.
 */
export async function stopSupervisor(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    await run(join(S6_BIN, 's6-svc'), ['-dx', dir], { timeout: 10_000 }).catch(() => undefined);
    try {
      await exitOf(child, 15_000);
    } catch {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await exitOf(child).catch(() => undefined);
    }
  }
  let pid = 0;
  try {
    pid = decodeStatus(require('node:fs').readFileSync(join(dir, 'supervise', 'status'))).pid;
  } catch {
    return;
  }
  if (pid > 0 && alive(pid)) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/**
 * What `s6-svc -wr FLAG DIR` means, in two steps that Debian's s6 2.11
 * clients get right every time: wait for down while sending FLAG, then wait
 * for up. A 2.11 listener stops reading a batch of events at the byte that
 * meets its condition, so when tether restarts a service at once (the `u`
 * right behind `dD`) and the listener is slow enough to get both in one
 * batch, `-wr` never sees the `u` and waits for its timeout.
 */
export async function s6Restart(dir: string, flag: string, ms = BOUND_MS): Promise<RunResult> {
  const down = await run(join(S6_BIN, 's6-svc'), ['-wd', '-T', String(ms), flag, dir], { timeout: ms + 10_000 });
  if (down.code !== 0) return down;
  return run(join(S6_BIN, 's6-svwait'), ['-u', '-t', String(ms), dir], { timeout: ms + 10_000 });
}
