// Fault-suite plumbing: a sampler that counts a service's live instances
// through /proc, tmpfs mounts the test owns, CPU read from /proc, and the
// figures each scenario records under build/faults/ for the README table.
import tap from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mkfifo } from '../../src/os/native';
import { BOUND_MS, HAVE_S6, ROOT, S6_BIN, TETHER, bounded, exitOf, makeService, run, tempDir, type RunResult, type Teardown } from '../lib/harness';
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

/**
 * Fills the filesystem holding `dir` with one file, which is returned: in
 * 64 KiB writes, then 4 KiB, then single bytes, so that not a byte is left.
 */
export function fillUp(dir: string): string {
  const file = join(dir, 'fill');
  writeFileSync(file, '');
  for (const size of [64 * 1024, 4096, 1]) {
    const chunk = Buffer.alloc(size, 1);
    try {
      for (let i = 0; i < 1_000_000; i++) writeFileSync(file, chunk, { flag: 'a' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    }
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

/**
 * Gives this test file `ms` before it is ended as hung, instead of tap's
 * per-file 300 s (.taprc): for files whose work is scaled by a constant and
 * that took 150-300 s on a loaded 2-core machine (restarts passed 300 s there).
 * The runner takes its own bound from a `# timeout=N` comment in the file's
 * output (@tapjs/core's spawn.js); the file's root test from setTimeout.
 */
export function allowFileTime(ms: number): void {
  tap.setTimeout(ms);
  tap.comment(`timeout=${ms}`);
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
 * Starts `tether svscan` (with `tetherArgs`) or `s6-svscan` on `scandir`
 * and waits until every service in `dirs` is up. At teardown: an orderly stop, then SIGKILL for
 * whatever under it is still alive.
 */
export async function startTree(t: Teardown, impl: Impl, scandir: string, dirs: readonly string[], tetherArgs: string[] = []): Promise<Tree> {
  let pid: number;
  if (impl === 'tether') {
    pid = (await startScanner(t, scandir, { args: tetherArgs })).pid;
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

/** Up, and the status names the one live instance carrying `id`: "recovered", as the table means it. */
export function upInLine(dir: string, id: string): boolean {
  const live = instancesOf(id);
  return live.length === 1 && upPid(dir) === live[0];
}

/** Waits (bounded) until `dir` is up in line; returns the ms since `from` (a performance.now()). */
export async function recoveryMs(dir: string, id: string, from: number, ms = 2 * BOUND_MS): Promise<number> {
  await until(() => upInLine(dir, id), ms, `${dir} up with the status naming its one instance`);
  return performance.now() - from;
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

/**
 * Opens a FIFO for writing without blocking our event loop: while no reader
 * has it open yet (ENXIO: a script that has not reached its `read`, a
 * supervisor still starting), tries again every 10 ms, up to `ms`.
 */
async function openFifoForWriting(path: string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Writes all of `data` to a FIFO without blocking our event loop, waiting for a reader and while it is full. */
export async function writeAllToFifo(path: string, data: Buffer, ms = BOUND_MS): Promise<void> {
  const fd = await openFifoForWriting(path, ms);
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

/** One supervised service, started under a scanner, as most scenarios need it. */
export interface OneService {
  root: string;
  dir: string;
  /** The marker its processes carry. */
  id: string;
  sampler: InstanceSampler;
  tree: Tree;
  /** The supervisor's pid (in shared mode, the scanner's). */
  sup: number;
  /** The pid its status named once up. */
  pid: number;
  /** Starts counting status reads from now on. */
  statusReader(): StatusReader;
  /** With `neighbour`: a healthy service beside it in the same tree, down until a probe drives it. */
  neighbour?: string;
}

export interface OneServiceOptions {
  /** Shell lines run before the marked process is exec'd. */
  prelude?: string;
  /** Other files of the service directory. */
  files?: Record<string, string>;
  /** Called with the service directory before anything is written into it (e.g. a mount). */
  prepare?: (dir: string) => void;
  /** The run script, given the marker, instead of a marked `sleep`. */
  run?: (id: string) => string;
  /** Wait for the service to be up (default); false for one that starts down. */
  up?: boolean;
  /** Also a healthy neighbour, `scan/neighbour`, for a NeighbourProbe. */
  neighbour?: boolean;
}

/** `scan/svc` under a fresh temporary root, marked `TAG-IMPL-PID`, up under `impl`'s scanner. */
export async function oneServiceTree(t: Teardown, impl: Impl, tag: string, opts: OneServiceOptions = {}): Promise<OneService> {
  const root = tempDir(t, 'tether-faults-');
  const dir = join(root, 'scan', 'svc');
  const id = `${tag}-${impl}-${process.pid}`;
  opts.prepare?.(dir);
  makeService(dir, opts.run?.(id) ?? markedRun(id, opts.prelude), opts.files);
  const neighbour = opts.neighbour ? makeNeighbour(join(root, 'scan'), id) : undefined;
  const sampler = new InstanceSampler(t, [id]);
  const tree = await startTree(t, impl, join(root, 'scan'), opts.up === false ? [] : [dir]);
  // Up is written when run starts; the marked process exists only once the script has run its
  // prelude (a trap, forks) and exec'd it. A fault injected before that hits a different process.
  if (opts.up !== false && opts.run === undefined) await until(() => upInLine(dir, id), 2 * BOUND_MS, 'the service past its prelude');
  const sup = tree.supervisor('svc') ?? tree.pid;
  return { root, dir, id, sampler, tree, sup, pid: upPid(dir), statusReader: () => new StatusReader(t, dir), neighbour };
}

/** A healthy service `neighbour` in `scandir`, down until a NeighbourProbe drives it. */
export function makeNeighbour(scandir: string, id: string): string {
  return makeService(join(scandir, 'neighbour'), markedRun(`${id}-neighbour`), { down: '' });
}

/** The implementations a scenario compares: tether, and Debian's s6 where installed. */
export const IMPLS: Impl[] = HAVE_S6 ? ['tether', 's6'] : ['tether'];

/** Figures found per scenario key and implementation, turned into table rows at the end. */
export class Findings {
  private readonly found = new Map<string, Partial<Record<Impl, string>>>();

  note(key: string, impl: Impl, figure: string): void {
    this.found.set(key, { ...this.found.get(key), [impl]: figure });
  }

  /** A row; s6 is null (not run) when the scenario has no s6 shape. */
  row(key: string, scenario: string, check: string, s6Fits = true): Figure {
    const f = this.found.get(key);
    return { scenario, check, tether: f?.tether ?? 'not run', s6: s6Fits ? f?.s6 ?? 'not run' : null };
  }
}

/** Resident and private memory of `pid`, in KiB, from /proc. */
export function memoryKiB(pid: number): { rss: number; priv: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? NaN);
  return { rss: field('Rss'), priv: field('Private_Clean') + field('Private_Dirty') };
}

/** The fds `pid` has open now. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * The fds `pid` keeps open once its asynchronous file work is done: the
 * fewest seen over `ms`, sampled every 10 ms (a supervisor that has just
 * written a status still holds the old file, the new one or `event/` for a
 * moment; a leaked fd is there in every sample). Returns early once `atMost`
 * is reached.
 */
export async function settledFds(pid: number, ms: number, atMost = 0): Promise<number> {
  const end = Date.now() + ms;
  let fewest = openFds(pid);
  while (fewest > atMost && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
    fewest = Math.min(fewest, openFds(pid));
  }
  return fewest;
}

/**
 * A healthy neighbour's responsiveness during a fault: `s6-svc -wu -u`
 * (tether's `svc` without s6; the C client leaves Node's start-up out of
 * the figure), then `-wd -d`, in a loop until stopped; each -wu's latency
 * is kept.
 */
export class NeighbourProbe {
  readonly upMs: number[] = [];
  failures = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(private readonly dir: string) {
    this.done = this.loop();
  }

  /**
   * A probe on `dir` once its supervisor listens (its status written, its
   * control open), stopped at teardown if the test has not stopped it.
   */
  static async start(t: Teardown, dir: string): Promise<NeighbourProbe> {
    await until(() => existsSync(join(dir, 'supervise', 'status')), BOUND_MS, `a supervisor on ${dir}`);
    const probe = new NeighbourProbe(dir);
    t.teardown(() => probe.stop());
    return probe;
  }

  private svc(flags: string[]): Promise<RunResult> {
    const args = [...flags, '-T', String(BOUND_MS), this.dir];
    return HAVE_S6 ? run(join(S6_BIN, 's6-svc'), args, { timeout: 2 * BOUND_MS }) : run(process.execPath, [TETHER, 'svc', ...args], { timeout: 2 * BOUND_MS });
  }

  private async loop(): Promise<void> {
    // A failure ends the loop: it fails the test, and a supervisor gone (at teardown) would
    // otherwise turn the loop into a storm of clients that fail at once.
    while (this.running && this.failures === 0) {
      const at = performance.now();
      const up = await this.svc(['-wu', '-u']);
      if (up.code === 0) this.upMs.push(performance.now() - at);
      else this.failures++;
      if ((await this.svc(['-wd', '-d'])).code !== 0) this.failures++;
    }
  }

  /** Stops after the cycle under way; resolves with the -wu latencies. */
  async stop(): Promise<number[]> {
    this.running = false;
    await this.done;
    return this.upMs;
  }

  /** Stops, asserts that every command of the neighbour succeeded, and returns its table figure. */
  async finish(t: { equal: (a: unknown, b: unknown, msg: string) => unknown }): Promise<string> {
    const ms = await this.stop();
    t.equal(this.failures, 0, `every svc -wu -u and -wd -d of the neighbour succeeded (${ms.length} cycles)`);
    return `${neighbourFigure(ms)}, ${this.failures} failed`;
  }
}

/** `-wu` p50/p99 of a neighbour probe, as a table figure. */
export function neighbourFigure(ms: number[]): string {
  return `neighbour svc -wu ${percentiles(ms)} (${ms.length})`;
}

/** A name a subscriber's FIFO has in event/: ftrig1:@ + 24 hex digits + : + 6 characters. */
export function listenerName(tag: string): string {
  return `ftrig1:@${'0'.repeat(24)}:${tag.padEnd(6, 'x').slice(0, 6)}`;
}

/**
 * A subscriber of the test's own: a FIFO in `dir`'s event/, so that a
 * scenario can count the events a supervisor sends (tether and s6 both write
 * each event byte to every FIFO there). The test holds a write end too, so
 * that the read side never sees end-of-file between two events.
 */
export class EventTap {
  private readonly path: string;
  private readonly keepOpen: number;
  private readonly socket: Socket;
  private got = '';
  private wake: (() => void) | undefined;

  constructor(t: Teardown, dir: string) {
    this.path = join(dir, 'event', listenerName(`t${process.pid % 100000}`));
    mkfifo(this.path, 0o600);
    const fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.keepOpen = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
    this.socket = new Socket({ fd, readable: true, writable: false });
    this.socket.on('data', (d: Buffer) => {
      this.got += d.toString('latin1');
      this.wake?.();
    });
    t.teardown(() => this.close());
  }

  /** Resolves once an event in `events` arrives; what came before it is dropped. */
  async waitFor(events: string, ms = BOUND_MS): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const at = [...this.got].findIndex((c) => events.includes(c));
      if (at >= 0) {
        this.got = this.got.slice(at + 1);
        return;
      }
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for an event in ${JSON.stringify(events)}`);
      await bounded(new Promise<void>((r) => (this.wake = r)), left, `an event in ${JSON.stringify(events)}`);
    }
  }

  close(): void {
    this.socket.destroy();
    try {
      closeSync(this.keepOpen);
      unlinkSync(this.path);
    } catch {
      // closed already
    }
  }
}
