// sd_notify readiness (issue 11): READY=1 datagram -> `U` event, beside s6's
// own readiness path (a newline into notification-fd -> `U`), idle CPU of 100
// supervisors with a notify socket, and the wakeup candidates measured in this
// process: SIGIO (O_ASYNC, what tether uses) against a koffi async recvmsg
// parked on libuv's threadpool. Run alone with `node scripts/bench.mjs notify`.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTicks, median } from './lib.mjs';
import { EventListener, SUPERVISORS, startSupervisor, statusPid, stopSupervisors } from './supervise.mjs';

const require = createRequire(import.meta.url);
const koffi = require('koffi');
const libc = koffi.load('libc.so.6');
const c = {
  socket: libc.func('int socket(int, int, int)'),
  bind: libc.func('int bind(int, const void *, uint32_t)'),
  sendto: libc.func('long sendto(int, const void *, unsigned long, int, const void *, uint32_t)'),
  recv: libc.func('long recv(int, _Out_ uint8_t *buf, unsigned long len, int flags)'),
  fcntl: libc.func('int fcntl(int, int, int)'),
  getpid: libc.func('int getpid(void)'),
};
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOCK_NONBLOCK = 0o4000;
const SAMPLES = 41;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sockaddr(path) {
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  Buffer.from(path).copy(addr, 2);
  return { addr, len: 2 + Buffer.byteLength(path) + 1 };
}

const sender = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
function send(path, text) {
  const { addr, len } = sockaddr(path);
  const data = Buffer.from(text);
  if (c.sendto(sender, data, data.length, 0, addr, len) < 0) throw new Error(`sendto ${path}: errno ${koffi.errno()}`);
}

/** The kinds that get a notify socket (tether's, per process or hosted by a shared scanner); the others a notification-fd. */
const viaDatagram = (kind) => kind === 'tether' || kind === 'shared';

function makeService(dir, kind) {
  mkdirSync(join(dir, 'event'), { recursive: true });
  chmodSync(join(dir, 'event'), 0o3730);
  writeFileSync(join(dir, 'run'), '#!/bin/sh\nexec sleep 100000\n');
  chmodSync(join(dir, 'run'), 0o755);
  if (viaDatagram(kind)) {
    writeFileSync(join(dir, 'notify-socket'), '');
    writeFileSync(join(dir, 'notify-access'), 'all\n');
  } else {
    writeFileSync(join(dir, 'notification-fd'), '3\n');
  }
  return dir;
}

/**
 * Median ms from the readiness message to the `U` event. tether: a READY=1
 * datagram sent to supervise/notify. s6 (2.11 has no notify socket): a newline
 * written into run's notification-fd pipe, reached through /proc/PID/fd/3.
 * Each sample restarts the service first (`svc -r`), in turns.
 */
async function readyLatency(root) {
  const runs = [];
  // tether's own notification-fd path too: what the datagram path costs beyond it.
  const kinds = [...SUPERVISORS, { ...SUPERVISORS[0], name: 'tether-fd' }];
  try {
    for (const kind of kinds) {
      const dir = makeService(join(root, `${kind.name}-ready`), kind.name);
      runs.push({ kind, dir, child: await startSupervisor(kind, dir), samples: [], listener: new EventListener(dir) });
    }
    for (let i = 0; i < SAMPLES; i++) {
      for (const r of i % 2 ? [...runs].reverse() : runs) {
        const up = r.listener.next('u');
        process.kill(statusPid(r.dir), 'SIGTERM');
        await up;
        await sleep(50);
        const ready = r.listener.next('U');
        let t0;
        if (viaDatagram(r.kind.name)) {
          t0 = performance.now();
          send(join(r.dir, 'supervise', 'notify'), 'READY=1');
        } else {
          const fd = openSync(`/proc/${statusPid(r.dir)}/fd/3`, 'w');
          t0 = performance.now();
          writeSync(fd, '\n');
          closeSync(fd);
        }
        r.samples.push((await ready) - t0);
      }
    }
  } finally {
    for (const r of runs) r.listener.close();
    await stopSupervisors(runs.map((r) => r.child), runs.map((r) => r.dir));
  }
  return Object.fromEntries(runs.map((r) => [r.kind.name, median(r.samples)]));
}

/**
 * One shared host (`tether svscan --shared`) with two notify services: a
 * python sender floods the first without end (STATUS= lines, each one a
 * notify-status write), and the median READY=1 -> U of the second is taken
 * as in readyLatency. One SIGIO serves both sockets; a fair drain keeps the
 * flood from holding the READY=1 back.
 */
export async function floodLatency(root) {
  const scandir = join(root, 'flood-scan');
  const flooded = makeService(join(scandir, 'flooded'), 'shared');
  const waiter = makeService(join(scandir, 'waiter'), 'shared');
  const listener = new EventListener(waiter);
  const floodedListener = new EventListener(flooded);
  const firstUp = [floodedListener, listener].map((l) => l.next('u', 60_000));
  const shared = SUPERVISORS.find((k) => k.shared);
  const host = spawn(shared.cmd, [...shared.args, scandir], { stdio: ['ignore', 'ignore', 'inherit'] });
  host.scandir = scandir; // stopSupervisors stops a scanner as a tree
  let flooder;
  const samples = [];
  try {
    await Promise.all(firstUp);
    flooder = spawn('python3', ['-c', `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
n=0
while True:
    n+=1
    s.sendto(b'STATUS=flood %d' % n, sys.argv[1])`, join(flooded, 'supervise', 'notify')], { stdio: 'ignore' });
    await sleep(500);
    for (let i = 0; i < SAMPLES; i++) {
      const up = listener.next('u');
      process.kill(statusPid(waiter), 'SIGTERM');
      await up;
      await sleep(50);
      const ready = listener.next('U');
      const t0 = performance.now();
      send(join(waiter, 'supervise', 'notify'), 'READY=1');
      samples.push((await ready) - t0);
    }
    const handled = /"status":"flood (\d+)"/.exec(readFileSync(join(flooded, 'supervise', 'notify-status'), 'utf8'))?.[1];
    console.log(`  flood: ${handled} datagrams handled on the flooded socket meanwhile`);
  } finally {
    flooder?.kill('SIGKILL');
    listener.close();
    floodedListener.close();
    await stopSupervisors([host], [flooded, waiter]);
  }
  return median(samples);
}

/** Idle CPU ticks of 100 supervisors over 10 s, after 30 s of settling; tether's with notify-socket. */
async function idle100(kind, root) {
  const dirs = [];
  const children = [];
  try {
    for (let i = 0; i < 100; i++) {
      const dir = makeService(join(root, `${kind.name}-idle-${i}`), kind.name);
      dirs.push(dir);
      children.push(await startSupervisor(kind, dir));
    }
    await sleep(30_000);
    const before = children.reduce((acc, ch) => acc + cpuTicks(ch.pid), 0);
    await sleep(10_000);
    return children.reduce((acc, ch) => acc + cpuTicks(ch.pid), 0) - before;
  } finally {
    await stopSupervisors(children, dirs);
  }
}

/** A receiving socket in this process, bound at `path`. */
function receiver(path, flags) {
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | flags, 0);
  const { addr, len } = sockaddr(path);
  if (c.bind(fd, addr, len) < 0) throw new Error(`bind ${path}: errno ${koffi.errno()}`);
  return fd;
}

/** Wakeup candidate 1: O_ASYNC + F_SETOWN, SIGIO through process.on, drained until EAGAIN. */
async function sigioLatency(root) {
  const path = join(root, 'sigio.sock');
  const fd = receiver(path, SOCK_NONBLOCK);
  const buf = Buffer.alloc(4096);
  let waiter;
  const onSigio = () => {
    while (c.recv(fd, buf, buf.length, 0) >= 0) waiter?.(performance.now());
  };
  process.on('SIGIO', onSigio);
  c.fcntl(fd, 8 /* F_SETOWN */, c.getpid());
  c.fcntl(fd, 4 /* F_SETFL */, c.fcntl(fd, 3, 0) | 0o20000 /* O_ASYNC */);
  const samples = [];
  try {
    for (let i = 0; i < SAMPLES; i++) {
      const got = new Promise((res) => { waiter = res; });
      const t0 = performance.now();
      send(path, 'READY=1');
      samples.push((await got) - t0);
      await sleep(5);
    }
  } finally {
    closeSync(fd);
    process.off('SIGIO', onSigio);
  }
  return median(samples);
}

/**
 * Wakeup candidate 2: a blocking recv as a koffi async call, on libuv's
 * threadpool. Returns its latency, and whether an fs call still completes
 * while 4 sockets wait (the pool has 4 threads: it does not).
 */
async function threadpoolLatency(root) {
  const fds = [0, 1, 2, 3].map((i) => receiver(join(root, `pool-${i}.sock`), 0));
  const bufs = fds.map(() => Buffer.alloc(4096));
  const recvAsync = (i) => new Promise((res) => c.recv.async(fds[i], bufs[i], 4096, 0, () => res(performance.now())));
  const samples = [];
  try {
    for (let i = 0; i < SAMPLES; i++) {
      const got = recvAsync(0);
      await sleep(5);
      const t0 = performance.now();
      send(join(root, 'pool-0.sock'), 'READY=1');
      samples.push((await got) - t0);
    }
    // Park all four, then try a plain fs read: it waits for a free thread.
    const parked = fds.map((_, i) => recvAsync(i));
    const fsDone = (async () => { await (await import('node:fs/promises')).readFile('/proc/self/stat'); return true; })();
    const starved = !(await Promise.race([fsDone, sleep(1000).then(() => false)]));
    for (let i = 0; i < 4; i++) send(join(root, `pool-${i}.sock`), 'x');
    await Promise.all(parked);
    await fsDone;
    return { latency: median(samples), starved };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

export async function run(report) {
  const root = mkdtempSync(join(tmpdir(), 'tether-bench-notify-'));
  // A signal listener does not keep the loop alive: this does, while we wait for SIGIO.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    const sigio = await sigioLatency(root);
    const pool = await threadpoolLatency(root);
    report.row('wakeup: datagram -> JS, SIGIO (median)', sigio, null, 'ms');
    report.row('wakeup: datagram -> JS, koffi async recv (median)', pool.latency, null, 'ms');
    console.log(`  koffi async: with 4 sockets waiting, fs.readFile ${pool.starved ? 'waits (threadpool starved)' : 'still completes'}`);
    const ready = await readyLatency(root);
    report.row('READY=1 -> U event (median; s6: notification-fd)', ready.tether, ready.s6, 'ms',
      { text: '<= 2 ms', test: (a) => a <= 2 });
    report.row('shared host: READY=1 -> U (median)', ready.shared, ready.s6, 'ms');
    report.row('tether notification-fd newline -> U (median)', ready['tether-fd'], ready.s6, 'ms');
    report.row('shared host, 2nd service flooded: READY=1 -> U', await floodLatency(root), ready.s6, 'ms');
    const idle = {};
    for (const kind of SUPERVISORS) idle[kind.name] = await idle100(kind, root);
    report.row('idle CPU ticks, 100 notify-socket services, 10 s', idle.tether, idle.s6, 'ticks',
      { text: '0', test: (a) => a === 0 });
  } finally {
    clearInterval(keepAlive);
    closeSync(sender);
    rmSync(root, { recursive: true, force: true });
  }
}
