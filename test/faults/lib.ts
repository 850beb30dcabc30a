// Fault-suite plumbing: a sampler that counts a service's live instances
// through /proc, tmpfs mounts the test owns, CPU read from /proc, and the
// figures each scenario records under build/faults/ for the README table.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, S6_BIN, exitOf, run, type Teardown } from '../lib/harness';
import { descendants, startScanner, supervisorOf, waitUp } from '../scan/lib';
import { decodeStatus, isUp } from '../../src/wire/status';

/** The environment variable each test service's processes carry, naming the service. */
export const FAULT_MARK = 'TETHER_FAULT_ID';

/** A run script whose only process carries `id` in its environment for its whole life. */
export function markedRun(id: string, extra = ''): string {
  return `#!/bin/sh\n${extra}exec /usr/bin/env ${FAULT_MARK}=${id} sleep 1000000\n`;
}

/** Live (not zombie) processes whose environment carries `FAULT_MARK=id`. */
export function instancesOf(id: string): number[] {
  const entry = Buffer.from(`\0${FAULT_MARK}=${id}\0`);
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let env: Buffer;
    try {
      env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]);
      if (env.indexOf(entry) < 0) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
      if (state !== 'Z' && state !== 'X') out.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Looks every 10 ms at the instances of each id and keeps the most seen
 * alive at once. Stops itself at teardown.
 */
export class InstanceSampler {
  private readonly most = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  samples = 0;

  constructor(t: Teardown, private readonly ids: readonly string[]) {
    for (const id of ids) this.most.set(id, 0);
    this.timer = setInterval(() => this.sample(), 10);
    t.teardown(() => {
      this.stop();
      // What a supervisor left behind (s6 leaves its service when killed).
      for (const id of ids) for (const pid of instancesOf(id)) process.kill(pid, 'SIGKILL');
    });
  }

  private sample(): void {
    this.samples++;
    for (const id of this.ids) this.most.set(id, Math.max(this.most.get(id) ?? 0, instancesOf(id).length));
  }

  /** The most instances of `id` seen alive at once so far. */
  maxOf(id: string): number {
    this.sample();
    return this.most.get(id) ?? 0;
  }

  /** The most instances of any id seen at once. */
  max(): number {
    this.sample();
    return Math.max(0, ...this.most.values());
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Mounts a tmpfs of `size` on `dir` (made if missing), unmounted at teardown. */
export function mountTmpfs(t: Teardown, dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  t.teardown(() => {
    try {
      execFileSync('umount', ['-l', dir]);
    } catch {
      // already unmounted
    }
  });
}

/** Fills the filesystem holding `dir` with one file, which is returned. */
export function fillUp(dir: string): string {
  const file = join(dir, 'fill');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeFileSync(file, chunk, { flag: i === 0 ? 'w' : 'a' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  return file;
}

/** user + system CPU of `pid` and of its reaped children, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11..14] are utime, stime, cutime, cstime, in clock ticks (100 Hz).
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) * 10;
}

/** Polls `cond` every 20 ms until true, or throws after `ms`: for states with no event to wait on. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One row of the README's Reliability table. */
export interface Figure {
  scenario: string;
  check: string;
  tether: string;
  s6: string | null;
}

/** Writes this scenario file's figures to build/faults/NAME.json (the last run wins). */
export function recordFigures(name: string, figures: Figure[]): void {
  const dir = join(ROOT, 'build', 'faults');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ name, at: new Date().toISOString(), figures }, null, 2)}\n`);
}

/** p50 and p99 of a list of durations, in ms, as text. */
export function percentiles(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return s.length === 0 ? 'n/a' : `p50 ${at(0.5).toFixed(0)} ms, p99 ${at(0.99).toFixed(0)} ms`;
}

/**
 * Every process under `pid` now, SIGKILLed at teardown if still alive: for a
 * tree whose root a test SIGKILLs, leaving its supervisors and services
 * (which hold the root's output pipes) to live on.
 */
export function killTreeAtTeardown(t: Teardown, pid: number): number[] {
  const tree = descendants(pid);
  t.teardown(() => {
    for (const p of tree) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  });
  return tree;
}

/** The scanners a scenario runs under: tether's, and Debian s6's where installed. */
export type Impl = 'tether' | 's6';

export interface Tree {
  pid: number;
  /** The supervisor's pid for service `name`. */
  supervisor(name: string): number | undefined;
}

/**
 * Starts `tether svscan` or `s6-svscan` on `scandir` and waits until every
 * service in `dirs` is up. At teardown: an orderly stop, then SIGKILL for
 * whatever under it is still alive.
 */
export async function startTree(t: Teardown, impl: Impl, scandir: string, dirs: readonly string[]): Promise<Tree> {
  let pid: number;
  if (impl === 'tether') {
    pid = (await startScanner(t, scandir)).pid;
  } else {
    const child = spawn(join(S6_BIN, 's6-svscan'), [scandir], { stdio: ['ignore', 'ignore', 'ignore'] });
    pid = child.pid as number;
    t.teardown(async () => {
      const seen = descendants(pid);
      if (child.exitCode === null && child.signalCode === null) {
        await run(join(S6_BIN, 's6-svscanctl'), ['-t', scandir]);
        await exitOf(child).catch(() => child.kill('SIGKILL'));
      }
      for (const p of seen) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
  }
  for (const d of dirs) await waitUp(d);
  return { pid, supervisor: (name) => supervisorOf(pid, name) };
}

/** The pid in `dir`'s status if the service is up, else 0; -1 if unreadable. */
export function upPid(dir: string): number {
  try {
    const s = decodeStatus(readFileSync(join(dir, 'supervise', 'status')));
    return isUp(s) ? s.pid : 0;
  } catch {
    return -1;
  }
}

/** Reads `dir`'s status many times a millisecond-tick and counts the torn reads (wrong size, undecodable). */
export class StatusReader {
  reads = 0;
  torn = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(t: Teardown, private readonly dir: string) {
    this.timer = setInterval(() => this.burst(), 1);
    t.teardown(() => this.stop());
  }

  private burst(): void {
    for (let i = 0; i < 20; i++) {
      this.reads++;
      try {
        const buf = readFileSync(join(this.dir, 'supervise', 'status'));
        if (buf.length !== 35 && buf.length !== 43) this.torn++;
        else decodeStatus(buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.torn++;
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Writes all of `data` to a FIFO without blocking our event loop, waiting while it is full. */
export async function writeAllToFifo(path: string, data: Buffer): Promise<void> {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(fd, data, off, Math.min(4096, data.length - off));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  } finally {
    closeSync(fd);
  }
}
