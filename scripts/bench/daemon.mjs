// The daemon tools beside what Debian's s6 2.11 has for the same job. s6 2.11
// has no s6-background-watch; its tool for a self-backgrounding daemon is
// s6-fghack (a pipe inherited by the daemon: EOF when it dies). Measured:
// daemon death -> wrapper exit latency, the wrapper's idle memory and CPU,
// and tether-only costs (pidfile kill, spawnTree close). Run alone with
// `node scripts/bench.mjs daemon`.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cpuTicks, median, privateMiB, sleep, Started } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const TETHER = join(ROOT, 'bin', 'tether.js');
const FGHACK = '/usr/bin/s6-fghack';
const RUNS = 10;
const IDLE_MS = 5000;
/** Every pid this bench starts, killed at the end even if a measurement throws. */
const started = new Started();

function script(path, body) {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function waitForFile(path) {
  return new Promise((res) => {
    const w = watch(dirname(path), () => existsSync(path) && (w.close(), res()));
    if (existsSync(path)) (w.close(), res());
  });
}

function exitOf(child) {
  return new Promise((res) => child.once('exit', () => res(performance.now())));
}

/** Starts a wrapper around a daemon that double-forks and writes its pid; returns the wrapper and the daemon pid. */
async function startWrapped(dir, wrapper, i) {
  const pidFile = join(dir, `${wrapper}-${i}.pid`);
  // The daemon is `sleep` itself: fork, setsid, fork; it inherits the wrapper's fds (fghack needs that).
  const launcher = script(join(dir, `launch-${wrapper}-${i}.sh`), `setsid sh -c 'sleep 100000 & echo $! > "$0.tmp"; mv "$0.tmp" "$0"' "${pidFile}"`);
  const args = wrapper === 'tether' ? [TETHER, 'background-watch', '-d', '3', pidFile, launcher] : [launcher];
  const child = started.spawn(wrapper === 'tether' ? process.execPath : FGHACK, args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  // background-watch says when it has accepted the daemon; s6-fghack waits from the start.
  if (wrapper === 'tether') await new Promise((res) => child.stdio[3].once('end', res).resume());
  await waitForFile(pidFile);
  const daemon = Number(readFileSync(pidFile, 'utf8'));
  started.add(daemon);
  return { child, daemon };
}

async function deathToExit(dir, wrapper) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const { child, daemon } = await startWrapped(dir, wrapper, i);
    const exited = exitOf(child);
    const t0 = performance.now();
    process.kill(daemon, 'SIGKILL');
    times.push((await exited) - t0);
  }
  return median(times);
}

async function idle(dir, wrapper) {
  const { child, daemon } = await startWrapped(dir, wrapper, 'idle');
  await sleep(500); // past start-up work (JIT, GC) before measuring idleness
  const mem = privateMiB(child.pid);
  const t0 = cpuTicks(child.pid);
  await sleep(IDLE_MS);
  const ticks = cpuTicks(child.pid) - t0;
  const exited = exitOf(child);
  process.kill(daemon, 'SIGKILL');
  await exited;
  return { mem, ticks };
}

async function pidfileKill(dir) {
  const times = [];
  const f = join(dir, 'k.pid');
  for (let i = 0; i < RUNS; i++) {
    const s = started.spawn('sleep', ['100000']);
    writeFileSync(f, `${s.pid}\n`);
    const t0 = performance.now();
    await new Promise((res) => started.spawn(process.execPath, [TETHER, 'pidfile', 'kill', '--pid-file', f]).once('exit', res));
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function treeClose(dir) {
  const { spawnTree } = await import(join(ROOT, 'build', 'index.js'));
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const f = join(dir, `t${i}.pid`);
    const tree = await spawnTree(['sh', '-c', `setsid sh -c 'sleep 100000 & echo $! > "$0"' "${f}"; exec sleep 100000`], { stdio: 'ignore' });
    await waitForFile(f);
    const t0 = performance.now();
    await tree.close();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export async function run(report) {
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-daemon-'));
  try {
    const haveFghack = existsSync(FGHACK);
    const t = await deathToExit(dir, 'tether');
    const s = haveFghack ? await deathToExit(dir, 's6') : null;
    report.row('daemon SIGKILL -> background-watch exit (median)', t, s, 'ms', { text: '<= 20 ms', test: (a) => a <= 20 });
    const ti = await idle(dir, 'tether');
    const si = haveFghack ? await idle(dir, 's6') : { mem: null, ticks: null };
    report.row('background-watch private memory, idle', ti.mem, si.mem, 'MiB', { text: '<= 8 MiB', test: (a) => a <= 8 });
    report.row(`background-watch CPU ticks in ${IDLE_MS / 1000} s idle`, ti.ticks, si.ticks, 'ticks', { text: '0 ticks', test: (a) => a === 0 });
    report.row('pidfile kill of a TERM-obeying process (wall)', await pidfileKill(dir), null, 'ms');
    report.row('spawnTree close() with a double-forked daemon', await treeClose(dir), null, 'ms');
  } finally {
    await started.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
