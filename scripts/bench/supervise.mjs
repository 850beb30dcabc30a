// tether supervise beside Debian's s6-supervise, in the same run: restart
// latency after a crash, svc -d/-u round trips, memory per added supervisor,
// idle CPU. Run alone with `node scripts/bench.mjs supervise`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTicks, leftUp, median, privateMiB, sleep, statusPid } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const TETHER = join(ROOT, 'bin', 'tether.js');
export const SUPERVISORS = [
  { name: 'tether', cmd: process.execPath, args: [TETHER, 'supervise'] },
  // Shared mode: a `tether svscan --shared` whose scan directory holds only a link to the service,
  // started as the command users run (its shell line gives svscan its V8 flag).
  { name: 'shared', cmd: TETHER, args: ['svscan', '--shared'], shared: true },
  { name: 's6', cmd: '/usr/bin/s6-supervise', args: [] },
];
const RESTARTS = 21;
const ROUND_TRIPS = 21;
const IDLE_SETTLE_MS = 30_000;

function makeService(dir, { ready = false } = {}) {
  mkdirSync(dir, { recursive: true });
  const body = ready ? 'echo >&3\nexec sleep 100000\n' : 'exec sleep 100000\n';
  writeFileSync(join(dir, 'run'), `#!/bin/sh\n${body}`);
  chmodSync(join(dir, 'run'), 0o755);
  if (ready) writeFileSync(join(dir, 'notification-fd'), '3\n');
  // The event fifodir made beforehand, as s6 makes it, so we can subscribe before the supervisor starts.
  mkdirSync(join(dir, 'event'));
  chmodSync(join(dir, 'event'), 0o3730);
  return dir;
}

/** A subscription to a service's event fifodir, as s6's own listeners make one. */
export class EventListener {
  constructor(dir) {
    const hex = randomBytes(12).toString('hex');
    const name = `ftrig1:@${hex}:${randomBytes(3).toString('hex')}`;
    const hidden = join(dir, 'event', `.${name}`);
    spawnSync('mkfifo', ['-m', '0622', hidden]);
    const readFd = openNonblock(hidden, constants.O_RDONLY);
    this.keepFd = openNonblock(hidden, constants.O_WRONLY);
    this.path = join(dir, 'event', name);
    renameSync(hidden, this.path);
    this.socket = new Socket({ fd: readFd, readable: true, writable: false });
    this.waiters = [];
    this.socket.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      const now = performance.now();
      for (const w of [...this.waiters]) {
        if (text.includes(w.event)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(now);
        }
      }
    });
  }

  /** Resolves with performance.now() when `event` arrives. */
  next(event, ms = 30_000) {
    return new Promise((resolve, reject) => {
      const w = { event, resolve: (t) => { clearTimeout(timer); resolve(t); } };
      const timer = setTimeout(() => reject(new Error(`no ${event} event within ${ms} ms`)), ms);
      this.waiters.push(w);
    });
  }

  close() {
    this.socket.destroy();
    closeSync(this.keepFd);
    rmSync(this.path, { force: true });
  }
}

function openNonblock(path, mode) {
  return openSync(path, mode | constants.O_NONBLOCK);
}

export { statusPid };

/** Starts a supervisor and resolves once its service is up (its `u` event). */
export async function startSupervisor(kind, dir) {
  const listener = new EventListener(dir);
  try {
    const up = listener.next('u', 60_000);
    let target = dir;
    if (kind.shared) {
      target = mkdtempSync(join(tmpdir(), 'tether-bench-shared-'));
      symlinkSync(dir, join(target, 'svc'));
    }
    const child = spawn(kind.cmd, [...kind.args, target], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (kind.shared) child.scandir = target;
    await up;
    return child;
  } finally {
    listener.close();
  }
}

export async function stopSupervisors(children, dirs) {
  for (const dir of dirs) spawnSync('/usr/bin/s6-svc', ['-dx', dir]);
  // A shared scanner would start a new supervisor after x: it stops as a tree.
  for (const c of children) if (c.scandir && c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((res) => {
    const timer = setTimeout(() => { c.kill('SIGKILL'); res(); }, 15_000);
    c.once('exit', () => { clearTimeout(timer); res(); });
  }))));
  for (const c of children) if (c.scandir) rmSync(c.scandir, { recursive: true, force: true });
  for (const dir of dirs) {
    const pid = leftUp(dir);
    try {
      if (pid > 0) process.kill(-pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * Median ms from SIGKILL of run (up for over a second) to the `u` event of
 * the new instance, for each supervisor. The two are measured in turns, in
 * alternating order, so a load change on the machine hits both alike.
 */
async function restartLatencies(root, ready) {
  const runs = [];
  try {
    for (const kind of SUPERVISORS) {
      const dir = makeService(join(root, `${kind.name}-restart-${ready ? 'ready' : 'plain'}`), { ready });
      runs.push({ kind, dir, child: await startSupervisor(kind, dir), samples: [] });
      runs.at(-1).listener = new EventListener(dir);
    }
    for (let i = 0; i < RESTARTS; i++) {
      await sleep(1100);
      for (const r of i % 2 ? [...runs].reverse() : runs) {
        const up = r.listener.next('u');
        const t0 = performance.now();
        process.kill(statusPid(r.dir), 'SIGKILL');
        r.samples.push((await up) - t0);
      }
    }
  } finally {
    for (const r of runs) r.listener?.close();
    await stopSupervisors(runs.map((r) => r.child), runs.map((r) => r.dir));
  }
  return Object.fromEntries(runs.map((r) => [r.kind.name, median(r.samples)]));
}

/** Median wall ms of `s6-svc -wd -d` and `s6-svc -wu -u`, per supervisor, measured in turns. */
async function roundTrips(root) {
  const runs = [];
  try {
    for (const kind of SUPERVISORS) {
      const dir = makeService(join(root, `${kind.name}-svc`));
      runs.push({ kind, dir, child: await startSupervisor(kind, dir), down: [], up: [] });
    }
    for (let i = 0; i < ROUND_TRIPS; i++) {
      for (const r of i % 2 ? [...runs].reverse() : runs) {
        let t0 = performance.now();
        spawnSync('/usr/bin/s6-svc', ['-wd', '-T', '30000', '-d', r.dir]);
        r.down.push(performance.now() - t0);
        t0 = performance.now();
        spawnSync('/usr/bin/s6-svc', ['-wu', '-T', '30000', '-u', r.dir]);
        r.up.push(performance.now() - t0);
      }
    }
  } finally {
    await stopSupervisors(runs.map((r) => r.child), runs.map((r) => r.dir));
  }
  return Object.fromEntries(runs.map((r) => [r.kind.name, { down: median(r.down), up: median(r.up) }]));
}

/** MiB each supervisor beyond the 10th costs, and idle CPU ticks of all 100 over 10 s. */
async function memoryAndIdle(kind, root) {
  const dirs = [];
  const children = [];
  const sum = () => children.reduce((acc, c) => acc + privateMiB(c.pid), 0);
  let at10 = 0;
  try {
    for (let i = 0; i < 100; i++) {
      const dir = makeService(join(root, `${kind.name}-mem-${i}`));
      dirs.push(dir);
      children.push(await startSupervisor(kind, dir));
      if (i === 9) {
        await sleep(2000);
        at10 = sum();
      }
    }
    // V8 runs a few memory-reducing GCs in a process's first ~30 s; idle means after that.
    await sleep(IDLE_SETTLE_MS);
    const at100 = sum();
    const before = children.reduce((acc, c) => acc + cpuTicks(c.pid), 0);
    await sleep(10_000);
    const after = children.reduce((acc, c) => acc + cpuTicks(c.pid), 0);
    return { perSupervisor: (at100 - at10) / 90, idleTicks: after - before };
  } finally {
    await stopSupervisors(children, dirs);
  }
}

export async function run(report) {
  const root = mkdtempSync(join(tmpdir(), 'tether-bench-supervise-'));
  try {
    const readyRestart = await restartLatencies(root, true);
    const plainRestart = await restartLatencies(root, false);
    const svc = await roundTrips(root);
    const results = {};
    for (const kind of SUPERVISORS) {
      results[kind.name] = {
        readyRestart: readyRestart[kind.name],
        plainRestart: plainRestart[kind.name],
        svc: svc[kind.name],
        // Shared mode's memory is the scanner's: scripts/bench/svscan.mjs measures it by tree size.
        mem: kind.shared ? null : await memoryAndIdle(kind, root),
      };
    }
    const restartGoal = (x) => ({ text: `<= ${x}x s6`, test: (a, b) => a <= x * b });
    const perMode = (readyGoal) => [
      { name: 'restart after crash, ready service (median)', pick: (r) => r.readyRestart, unit: 'ms', goal: readyGoal },
      { name: 'restart after crash, plain service (median)', pick: (r) => r.plainRestart, unit: 'ms', goal: { text: '<= 50 ms (s6 2.11 waits 1 s)', test: (a) => a <= 50 } },
      { name: 's6-svc -wd -d round trip (median)', pick: (r) => r.svc.down, unit: 'ms' },
      { name: 's6-svc -wu -u round trip (median)', pick: (r) => r.svc.up, unit: 'ms' },
    ];
    const t = results.tether;
    const s = results.s6;
    report.compare(perMode(restartGoal(1.25)), results.shared, s, 'shared: ');
    report.compare(perMode(restartGoal(1.5)), t, s);
    report.row('private memory per added supervisor (10->100)', t.mem.perSupervisor, s.mem.perSupervisor, 'MiB',
      { text: '<= 8 MiB', test: (a) => a <= 8 });
    report.row('idle CPU ticks, 100 supervisors, 10 s (after 30 s)', t.mem.idleTicks, s.mem.idleTicks, 'ticks',
      { text: '0', test: (a) => a === 0 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
