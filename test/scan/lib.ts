// Scanner test plumbing: start `tether svscan -d 3` and wait for its
// readiness; at teardown stop it in order (svscanctl -t) and then kill, by
// pid, anything it left behind. Supervisors and services run in sessions of
// their own, so killing the scanner alone would leave them running.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, watch, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { childrenOf } from '../../src/os/proc';
import { BOUND_MS, TETHER, alive, bounded, exitOf, run, tempDir, tether, waitForFile, type Exit, type Teardown } from '../lib/harness';

/** The harness's wait, under the name these tests use: a path, parents included. */
export const waitForPath = waitForFile;

export interface ScannerHandle {
  child: ChildProcess;
  pid: number;
  scandir: string;
  output(): { stdout: string; stderr: string };
  /** svscanctl -t, then wait for the scanner to exit. */
  stop(): Promise<Exit>;
}

/** Every descendant of `pid`, depth first. */
export function descendants(pid: number): number[] {
  return childrenOf(pid).flatMap((c) => [c, ...descendants(c)]);
}

/** SIGKILL, by pid, to every descendant of `pid` and to `pid`: a teardown's last resort after a failed run. */
export function killTree(pid: number): void {
  for (const p of [...descendants(pid), pid]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface ScannerOptions {
  /** Extra svscan options, placed before SCANDIR. */
  args?: string[];
  /** The command that runs tether: by default `node bin/tether.js`. */
  prefix?: string[];
  env?: NodeJS.ProcessEnv;
  /** The scanner's stdin: /dev/null ('ignore') unless a test says otherwise. */
  stdin?: 'pipe' | 'ignore';
}

export async function startScanner(t: Teardown, scandir: string, opts: ScannerOptions = {}): Promise<ScannerHandle> {
  const prefix = opts.prefix ?? [process.execPath, TETHER];
  // TETHER_MODE=shared (test/shared/) runs the same scenarios with every supervisor inside the scanner.
  const mode = process.env.TETHER_MODE === 'shared' ? ['--shared'] : [];
  const child = spawn(prefix[0], [...prefix.slice(1), 'svscan', '-d', '3', ...mode, ...(opts.args ?? []), scandir], {
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid as number;
  const seen = new Set<number>();
  const remember = () => {
    if (child.exitCode === null && child.signalCode === null) for (const p of descendants(pid)) seen.add(p);
  };
  const handle: ScannerHandle = {
    child,
    pid,
    scandir,
    output: () => ({ stdout, stderr }),
    stop: async () => {
      remember();
      if (child.exitCode === null && child.signalCode === null) await tether(['svscanctl', '-t', scandir]);
      return exitOf(child);
    },
  };
  t.teardown(async () => {
    remember();
    if (child.exitCode === null && child.signalCode === null) {
      try {
        await handle.stop();
      } catch {
        child.kill('SIGKILL');
      }
    }
    for (const p of seen) {
      if (alive(p)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
  });
  const ready = new Promise<void>((res, rej) => {
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.once('data', () => res());
    child.once('exit', (code, sig) => rej(new Error(`svscan exited (${code ?? sig}) before readiness: ${stderr}`)));
  });
  await bounded(ready, BOUND_MS, 'svscan -d readiness');
  remember();
  return handle;
}

/** Resolves once `file` has at least `n` lines matching `re`, watching its directory. */
export async function waitForLines(file: string, n: number, re: RegExp = /./, ms = BOUND_MS): Promise<string[]> {
  const dir = dirname(file);
  await waitForFile(dir, ms);
  const matching = (): string[] => {
    try {
      return readFileSync(file, 'utf8').split('\n').filter((l) => re.test(l));
    } catch {
      return [];
    }
  };
  return bounded(new Promise<string[]>((res) => {
    const check = (): boolean => {
      const lines = matching();
      if (lines.length < n) return false;
      w.close();
      res(lines);
      return true;
    };
    const w = watch(dir, () => check());
    check();
  }), ms, `${n} lines matching ${re} in ${file}`);
}

/** The raw /proc cmdline of `pid`, or '' if it has exited since it was listed. */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}

/** The supervisors the scanner runs for `name` (argv ends with NAME), by pid. */
export function supervisorsOf(scannerPid: number, name: string): number[] {
  return childrenOf(scannerPid).filter((p) => {
    const argv = cmdlineOf(p).split('\0').filter(Boolean);
    return argv[argv.length - 1] === name;
  });
}

/** The pid of the supervisor the scanner runs for `name`. */
export function supervisorOf(scannerPid: number, name: string): number | undefined {
  return supervisorsOf(scannerPid, name)[0];
}

/** Waits until a supervisor has started on `dir` and its service is up. */
export async function waitUp(dir: string): Promise<void> {
  await waitForFile(join(dir, 'supervise', 'status'), BOUND_MS);
  const r = await tether(['svwait', '-u', '-t', String(BOUND_MS), dir]);
  if (r.code !== 0) throw new Error(`svwait -u ${dir}: ${r.code} ${r.stderr}`);
}

export function statusPid(dir: string): number {
  const buf = readFileSync(join(dir, 'supervise', 'status'));
  return Number(buf.readBigUInt64BE(24));
}

/**
 * Resolves once `pid` (any process, not only our child) has exited, through
 * procps' pidwait, which waits on a pidfd: no polling.
 */
export async function waitExit(t: Teardown, pid: number, ms = BOUND_MS): Promise<void> {
  const file = join(tempDir(t, 'tether-pidwait-'), 'pid');
  writeFileSync(file, `${pid}\n`);
  await run('pidwait', ['-F', file], { timeout: ms });
}

