// Whole trees: tether svscan in both modes (a `tether supervise` process per
// service, or every supervisor inside the scanner with --shared) beside
// Debian's s6-svscan, in the same run, on the same kind of tree. Measures the
// time until all services are up from cold, private memory by tree size and
// per added service, idle CPU of a 1000-service tree, and the delay that a
// crash-looping or control-flooded neighbour adds to a healthy service's
// restart; beside the big cold start, the machine's floor: the same run
// scripts started by one sh loop, no supervisor at all. Per-process tether
// stops at 100 services (1000 Node processes do not fit). Run alone with
// `node scripts/bench.mjs svscan`; SVSCAN_BENCH_BIG=n changes the big tree's
// size (1000). SVSCAN_BENCH_ONLY=cold measures only the cold starts of shared
// mode, s6 and the sh loop (100 and BIG services, SVSCAN_BENCH_ROUNDS rounds
// each, 1 by default), prints every round, and keeps no rows for the README:
// `SVSCAN_BENCH_ONLY=cold node scripts/bench.mjs svscan`.
// SVSCAN_BENCH_ONLY=idle measures only the idle CPU of the big tree, shared
// beside s6, the same way (ROUNDS rounds, every round printed).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, cpuTicks, killQuietly, median, privateMiB, statusPid } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const TETHER = join(ROOT, 'bin', 'tether.js');
const BIG = Number(process.env.SVSCAN_BENCH_BIG || 1000);
const BOUND_MS = 300_000;
const RESTARTS = 11;
const ONLY = process.env.SVSCAN_BENCH_ONLY || '';
const ROUNDS = Math.max(1, Number(process.env.SVSCAN_BENCH_ROUNDS || 1));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// tether's scanners start as the command users run (bin/tether.js through
// its shell line, which gives svscan its V8 flag), not as `node bin/tether.js`.
const SCANNERS = {
  process: { name: 'tether', cmd: TETHER, args: ['svscan'], ctl: [process.execPath, TETHER, 'svscanctl'] },
  // Room for the big tree: s6-svscan 2.11 supervises at most 500 services unless told (-c).
  shared: { name: 'tether --shared', cmd: TETHER, args: ['svscan', '--shared', '-C', String(2 * BIG)], ctl: [process.execPath, TETHER, 'svscanctl'] },
  s6: { name: 's6', cmd: '/usr/bin/s6-svscan', args: ['-c', String(2 * BIG)], ctl: ['/usr/bin/s6-svscanctl'] },
};

function writeRun(dir, body) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run'), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, 'run'), 0o755);
  mkdirSync(join(dir, 'event'));
  chmodSync(join(dir, 'event'), 0o3730);
}

/** A fresh tree of `count` services, each with its event fifodir made beforehand so we can subscribe first. */
function makeTree(count) {
  const scandir = mkdtempSync(join(tmpdir(), 'tether-bench-svscan-'));
  const dirs = [];
  for (let i = 0; i < count; i++) {
    const dir = join(scandir, `svc${String(i).padStart(4, '0')}`);
    writeRun(dir, 'exec sleep 100000');
    dirs.push(dir);
  }
  return { scandir, dirs };
}

/** A subscription to a service's event fifodir; `next(ev)` resolves with the time `ev` arrives. */
function subscribe(dir) {
  const name = `ftrig1:@${randomBytes(12).toString('hex')}:${randomBytes(3).toString('hex')}`;
  const hidden = join(dir, 'event', `.${name}`);
  spawnSync('mkfifo', ['-m', '0622', hidden]);
  const readFd = openSync(hidden, constants.O_RDONLY | constants.O_NONBLOCK);
  const keepFd = openSync(hidden, constants.O_WRONLY | constants.O_NONBLOCK);
  renameSync(hidden, join(dir, 'event', name));
  const socket = new Socket({ fd: readFd, readable: true, writable: false });
  const waiters = [];
  socket.on('data', (chunk) => {
    const at = performance.now();
    const text = chunk.toString('latin1');
    for (const w of [...waiters]) if (text.includes(w.ev)) waiters.splice(waiters.indexOf(w), 1) && w.res(at);
  });
  return {
    next: (ev) => new Promise((res) => waiters.push({ ev, res })),
    close: () => {
      socket.destroy();
      closeSync(keepFd);
      rmSync(join(dir, 'event', name), { force: true });
    },
  };
}

function bounded(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return '';
  }
}

/** The scanner and its supervisor processes (in shared mode, the scanner's children are services). */
function supervisionPids(scannerPid) {
  return [scannerPid, ...childrenOf(scannerPid).filter((p) => ['node', 's6-supervise'].includes(comm(p)))];
}

/** Starts `scanner` on `scandir`; resolves once every dir in `watched` has sent `u`. */
async function startTree(scanner, scandir, watched) {
  const subs = watched.map(subscribe);
  const ups = subs.map((s) => s.next('u'));
  const t0 = performance.now();
  const child = spawn(scanner.cmd, [...scanner.args, scandir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((res) => child.once('exit', res));
  try {
    const last = Math.max(...(await bounded(Promise.all(ups), BOUND_MS, `${watched.length} services up under ${scanner.name}`)));
    return { child, exited, upMs: last - t0 };
  } finally {
    for (const s of subs) s.close();
  }
}

async function stopTree(scanner, tree, started) {
  const pids = started ? supervisionPids(started.child.pid) : [];
  if (started) {
    spawnSync(scanner.ctl[0], [...scanner.ctl.slice(1), '-t', tree.scandir]);
    await bounded(started.exited, BOUND_MS, `${scanner.name} scanner exit`).catch(() => started.child.kill('SIGKILL'));
  }
  for (const p of pids) killQuietly(p);
  rmSync(tree.scandir, { recursive: true, force: true });
}

/** Cold start to all up, private memory, and (with `idle`) CPU ticks over 10 s from 2 s after all are up. */
async function measureTree(scanner, count, { idle = false } = {}) {
  const tree = makeTree(count);
  let started;
  try {
    started = await startTree(scanner, tree.scandir, tree.dirs);
    const notUp = tree.dirs.filter((d) => !/^up /.test(spawnSync('/usr/bin/s6-svstat', [d], { encoding: 'utf8' }).stdout));
    if (notUp.length) throw new Error(`${notUp.length} services not reported up by s6-svstat under ${scanner.name}`);
    // After the one start-up garbage collection tether schedules a second after it starts.
    await sleep(2000);
    const pids = supervisionPids(started.child.pid);
    const mib = pids.reduce((sum, p) => sum + privateMiB(p), 0);
    let idleTicks;
    if (idle) {
      const before = pids.reduce((sum, p) => sum + cpuTicks(p), 0);
      await sleep(10_000);
      idleTicks = pids.reduce((sum, p) => sum + cpuTicks(p), 0) - before;
    }
    return { upMs: started.upMs, mib, idleTicks, processes: pids.length };
  } finally {
    await stopTree(scanner, tree, started);
  }
}

/**
 * Median ms from SIGKILL of a healthy service to its new `u`, alone and
 * then beside a neighbour that crash-loops and one whose control FIFO gets
 * a megabyte of NUL bytes (unknown commands) after another.
 */
async function neighbourDelay(scanner) {
  const scandir = mkdtempSync(join(tmpdir(), 'tether-bench-neighbour-'));
  const healthy = join(scandir, 'healthy');
  writeRun(healthy, 'exec sleep 100000');
  const looper = join(scandir, 'looper');
  writeRun(looper, 'exit 1');
  writeFileSync(join(looper, 'down'), '');
  const flooded = join(scandir, 'flooded');
  writeRun(flooded, 'exec sleep 100000');
  const tree = { scandir };
  let started;
  let flood;
  const restarts = async (sub) => {
    const samples = [];
    for (let i = 0; i < RESTARTS; i++) {
      await sleep(1100);
      const up = sub.next('u');
      const t0 = performance.now();
      process.kill(statusPid(healthy), 'SIGKILL');
      samples.push((await bounded(up, 30_000, 'healthy restart')) - t0);
    }
    return median(samples);
  };
  try {
    started = await startTree(scanner, scandir, [healthy, flooded]);
    const sub = subscribe(healthy);
    try {
      const alone = await restarts(sub);
      spawnSync('/usr/bin/s6-svc', ['-u', looper]);
      flood = spawn('/bin/sh', ['-c', 'while :; do head -c 1048576 /dev/zero > "$1" || exit; done', 'sh', join(flooded, 'supervise', 'control')], { stdio: 'ignore' });
      const beside = await restarts(sub);
      return { alone, beside, delay: beside - alone };
    } finally {
      sub.close();
    }
  } finally {
    if (flood) {
      flood.kill('SIGKILL');
      await new Promise((res) => (flood.exitCode !== null ? res() : flood.once('exit', res)));
    }
    await stopTree(scanner, tree, started);
  }
}

/**
 * The machine's floor for a cold start: ms until the same run scripts,
 * started by one sh loop with no supervisor at all, have every one exec'd
 * into its sleep. No supervisor can start a tree faster here.
 */
async function shellFloor(count) {
  const tree = makeTree(count);
  const t0 = performance.now();
  const loop = spawn('/bin/sh', ['-c', 'for d in "$1"/*/; do (cd "$d" && exec ./run) & done; wait', 'sh', tree.scandir], { stdio: 'ignore' });
  const exited = new Promise((res) => loop.once('exit', res));
  const asleep = new Set();
  try {
    const deadline = t0 + BOUND_MS;
    for (;;) {
      const children = childrenOf(loop.pid);
      // Only once all are forked, and then only those not yet seen in sleep: the count costs little.
      if (children.length >= count) for (const p of children) if (!asleep.has(p) && comm(p) === 'sleep') asleep.add(p);
      if (asleep.size >= count) return performance.now() - t0;
      if (performance.now() > deadline) throw new Error(`timed out: ${count} run scripts from a sh loop`);
      await sleep(20);
    }
  } finally {
    for (const p of childrenOf(loop.pid)) killQuietly(p);
    loop.kill('SIGKILL');
    await exited;
    rmSync(tree.scandir, { recursive: true, force: true });
  }
}

/** Cold starts only, shared beside s6, alternating, median of ROUNDS: for work on start-up cost. */
async function coldOnly(report) {
  for (const n of [100, BIG]) {
    const ms = { shared: [], s6: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const mode of ['shared', 's6']) {
        const { upMs } = await measureTree(SCANNERS[mode], n);
        ms[mode].push(upMs);
        console.log(`(${SCANNERS[mode].name}, ${n} services, round ${i + 1}: up in ${upMs.toFixed(0)} ms)`);
      }
      const floor = await shellFloor(n);
      console.log(`(no supervisor, ${n} run scripts from a sh loop, round ${i + 1}: ${floor.toFixed(0)} ms)`);
    }
    report.row(`shared: ${n} services up from cold (median of ${ROUNDS})`, median(ms.shared), median(ms.s6), 'ms');
  }
}

/** Idle CPU of the big tree only, shared beside s6, alternating, median of ROUNDS: for work on idle cost. */
async function idleOnly(report) {
  const ticks = { shared: [], s6: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const mode of ['shared', 's6']) {
      const { upMs, idleTicks } = await measureTree(SCANNERS[mode], BIG, { idle: true });
      ticks[mode].push(idleTicks);
      console.log(`(${SCANNERS[mode].name}, ${BIG} services, round ${i + 1}: up in ${upMs.toFixed(0)} ms, ${idleTicks} ticks idle)`);
    }
  }
  report.row(`shared: idle CPU, ${BIG} services, 10 s from 2 s after up (median of ${ROUNDS})`, median(ticks.shared), median(ticks.s6), 'ticks');
}

export async function run(report) {
  // A partial run: its rows are printed, never kept for the README.
  if (ONLY === 'cold') return coldOnly(report).then(() => false);
  if (ONLY === 'idle') return idleOnly(report).then(() => false);
  if (ONLY) throw new Error(`SVSCAN_BENCH_ONLY: unknown value ${JSON.stringify(ONLY)} (cold, idle)`);
  const sizes = [10, 100, BIG];
  const r = { process: {}, shared: {}, s6: {} };
  for (const n of sizes) {
    for (const mode of ['process', 'shared', 's6']) {
      if (mode === 'process' && n > 100) continue;
      r[mode][n] = await measureTree(SCANNERS[mode], n, { idle: n === BIG && mode !== 'process' });
      console.log(`(${SCANNERS[mode].name}, ${n} services: ${r[mode][n].processes} supervision processes, up in ${r[mode][n].upMs.toFixed(0)} ms, ${r[mode][n].mib.toFixed(1)} MiB)`);
    }
  }
  const per = (m, a, b) => (r[m][b].mib - r[m][a].mib) / (b - a);
  for (const n of [100, BIG]) {
    report.row(`shared: ${n} services up from cold (all 'u')`, r.shared[n].upMs, r.s6[n].upMs, 'ms',
      n === 100 ? { text: '<= 2x s6', test: (a, b) => a <= 2 * b } : { text: '< 5 s', test: (a) => a < 5000 });
  }
  const floor = await shellFloor(BIG);
  report.row(`no supervisor at all: ${BIG} run scripts from one sh loop`, floor, null, 'ms');
  report.row(`per-process: 100 services up from cold (all 'u')`, r.process[100].upMs, r.s6[100].upMs, 'ms');
  for (const n of sizes) report.row(`shared: scanner private memory, ${n} services`, r.shared[n].mib, r.s6[n].mib, 'MiB');
  for (const n of [10, 100]) report.row(`per-process: scanner + supervisors memory, ${n} services`, r.process[n].mib, r.s6[n].mib, 'MiB');
  report.row(`shared: private memory per added service (100->${BIG})`, per('shared', 100, BIG), per('s6', 100, BIG), 'MiB',
    { text: '<= 0.5 MiB', test: (a) => a <= 0.5 });
  report.row('per-process: private memory per added service (10->100)', per('process', 10, 100), per('s6', 10, 100), 'MiB');
  report.row(`shared: idle CPU, ${BIG} services, 10 s from 2 s after up`, r.shared[BIG].idleTicks, r.s6[BIG].idleTicks, 'ticks',
    { text: '0', test: (a) => a === 0 });
  for (const [mode, label] of [['shared', 'shared'], ['s6', 's6']]) r[mode].neighbour = await neighbourDelay(SCANNERS[mode]);
  const n = r.shared.neighbour;
  const s = r.s6.neighbour;
  console.log(`(healthy restart alone: shared ${n.alone.toFixed(2)} ms, s6 ${s.alone.toFixed(2)} ms; beside a crash loop and a flood: shared ${n.beside.toFixed(2)} ms, s6 ${s.beside.toFixed(2)} ms)`);
  report.row('shared: delay a crash-looping + flooded neighbour adds to a restart', n.delay, s.delay, 'ms',
    { text: '< 50 ms', test: (a) => a < 50 });
}
