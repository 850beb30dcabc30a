// tether svscan beside Debian's s6-svscan, in the same run, on the same kind
// of tree: the time to bring 100 services up from cold, and the private
// memory of the scanner plus its supervisors. Run alone with
// `node scripts/bench.mjs svscan` (SVSCAN_BENCH_SERVICES=n to change the size).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateMiB } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const TETHER = join(ROOT, 'bin', 'tether.js');
const COUNT = Number(process.env.SVSCAN_BENCH_SERVICES || 100);
const BOUND_MS = 120_000;
const SCANNERS = [
  { name: 'tether', cmd: process.execPath, args: [TETHER, 'svscan'], ctl: [process.execPath, TETHER, 'svscanctl'] },
  { name: 's6', cmd: '/usr/bin/s6-svscan', args: [], ctl: ['/usr/bin/s6-svscanctl'] },
];

/** A fresh tree of COUNT services, each with its event fifodir made beforehand so we can subscribe first. */
function makeTree() {
  const scandir = mkdtempSync(join(tmpdir(), 'tether-bench-svscan-'));
  const dirs = [];
  for (let i = 0; i < COUNT; i++) {
    const dir = join(scandir, `svc${String(i).padStart(3, '0')}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'run'), '#!/bin/sh\nexec sleep 100000\n');
    chmodSync(join(dir, 'run'), 0o755);
    mkdirSync(join(dir, 'event'));
    chmodSync(join(dir, 'event'), 0o3730);
    dirs.push(dir);
  }
  return { scandir, dirs };
}

/** Resolves with the time the service's supervisor reports `u` (up) on its event fifodir. */
function upEvent(dir) {
  const name = `ftrig1:@${randomBytes(12).toString('hex')}:${randomBytes(3).toString('hex')}`;
  const hidden = join(dir, 'event', `.${name}`);
  spawnSync('mkfifo', ['-m', '0622', hidden]);
  const readFd = openSync(hidden, constants.O_RDONLY | constants.O_NONBLOCK);
  const keepFd = openSync(hidden, constants.O_WRONLY | constants.O_NONBLOCK);
  renameSync(hidden, join(dir, 'event', name));
  const socket = new Socket({ fd: readFd, readable: true, writable: false });
  return new Promise((resolve) => {
    socket.on('data', (chunk) => {
      if (!chunk.toString('latin1').includes('u')) return;
      const at = performance.now();
      socket.destroy();
      closeSync(keepFd);
      resolve(at);
    });
  });
}

function bounded(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function measure(scanner) {
  const { scandir, dirs } = makeTree();
  const ups = dirs.map(upEvent);
  const t0 = performance.now();
  const child = spawn(scanner.cmd, [...scanner.args, scandir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((res) => child.once('exit', res));
  let supervisors = [];
  try {
    const last = Math.max(...(await bounded(Promise.all(ups), BOUND_MS, `${COUNT} services up under ${scanner.name}`)));
    const upMs = last - t0;
    // Confirm with s6-svstat, the reference client.
    const notUp = dirs.filter((d) => !/^up /.test(spawnSync('/usr/bin/s6-svstat', [d], { encoding: 'utf8' }).stdout));
    if (notUp.length) throw new Error(`${notUp.length} services not reported up by s6-svstat under ${scanner.name}`);
    supervisors = childrenOf(child.pid);
    const scannerMiB = privateMiB(child.pid);
    const totalMiB = supervisors.reduce((sum, p) => sum + privateMiB(p), scannerMiB);
    return { upMs, scannerMiB, totalMiB, supervisors: supervisors.length };
  } finally {
    spawnSync(scanner.ctl[0], [...scanner.ctl.slice(1), '-t', scandir]);
    await bounded(exited, BOUND_MS, `${scanner.name} scanner exit`).catch(() => child.kill('SIGKILL'));
    for (const p of supervisors) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone, as expected
      }
    }
    rmSync(scandir, { recursive: true, force: true });
  }
}

export async function run(report) {
  const results = {};
  for (const scanner of SCANNERS) results[scanner.name] = await measure(scanner);
  const { tether, s6 } = results;
  console.log(`(${tether.supervisors} tether supervisors, ${s6.supervisors} s6-supervise, ${COUNT} services)`);
  report.row(`${COUNT} services up from cold (all 'u')`, tether.upMs, s6.upMs, 'ms');
  report.row('scanner private memory', tether.scannerMiB, s6.scannerMiB, 'MiB');
  report.row(`scanner + ${COUNT} supervisors private memory`, tether.totalMiB, s6.totalMiB, 'MiB');
}
