// tether web: how fast a death reaches a browser's event stream, beside how
// fast s6's own client (s6-svwait -d) hears of it from the same s6-supervise;
// what the server costs idle with a Chromium tab open (strace), and its
// memory with 100 streams. Run alone with `node scripts/bench.mjs web`.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { median, privateMiB, sleep, Started, until } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const TETHER = join(ROOT, 'bin', 'tether.js');
const CHROMIUM = '/usr/bin/chromium';
const RUNS = 15;
const IDLE_S = 31; // two heartbeats
/** Every process this bench starts, the supervised service included, ended by pid at the end. */
const started = new Started();
const start = (cmd, args) => started.spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });

const { readStatus, isUp } = createRequire(import.meta.url)(join(ROOT, 'build', 'index.js'));

/** The service's pid while it is up (run, not finish), else 0. */
function statusPid(dir) {
  const st = readStatus(dir);
  return isUp(st) ? st.pid : 0;
}

function subscribed(dir) {
  return readdirSync(join(dir, 'event')).filter((n) => n.startsWith('ftrig1')).length;
}

/** An SSE stream on the unix socket; `onRecord` gets each record's event and data. */
function stream(socket, path, onRecord) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, headers: { host: 'localhost' } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data) onRecord(ev, JSON.parse(data));
        }
      });
      resolve(req);
    });
    req.on('error', reject);
    req.end();
  });
}

async function deathLatency(report, dir, socket) {
  const web = [];
  const s6 = [];
  let waiting = null;
  const req = await stream(socket, '/v1/events?service=svc', (ev, data) => {
    if (ev === 'service' && data.events.includes('d') && waiting) waiting(performance.now());
  });
  await until(() => subscribed(dir) === 1, 'the web subscription');
  for (let i = 0; i < RUNS; i++) {
    await until(() => existsSync(join(dir, 'supervise', 'status')) && statusPid(dir) > 0, 'up');
    const seen = new Promise((res) => (waiting = res));
    const t0 = performance.now();
    process.kill(statusPid(dir), 'SIGKILL');
    web.push((await seen) - t0);
    waiting = null;
    await until(() => statusPid(dir) > 0, 'up again');
    const waiter = start('/usr/bin/s6-svwait', ['-d', dir]);
    await until(() => subscribed(dir) === 2, 's6-svwait subscribed');
    const exited = new Promise((res) => waiter.once('exit', () => res(performance.now())));
    const t1 = performance.now();
    process.kill(statusPid(dir), 'SIGKILL');
    s6.push((await exited) - t1);
  }
  req.destroy();
  report.row('service death -> seen (web SSE vs s6-svwait -d)', median(web), median(s6), 'ms', { text: '<= 50 ms', test: (t) => t <= 50 });
}

async function idleCost(report, scan, webPid, traceDir) {
  if (!existsSync(CHROMIUM)) return console.log('(no chromium: idle cost with a page open not measured)');
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const tokenLine = readFileSync(join(scan, '.tether', 'web.token'), 'utf8').trim();
    await page.goto(`http://127.0.0.1:${globalThis.webPort}/#token=${tokenLine}`);
    await page.waitForSelector('#conn[data-state="live"]');
    await sleep(10_000); // let start-up garbage collection finish
    // Outside the scan directory: the server watches that one.
    const out = join(traceDir, 'strace.out');
    spawnSync('timeout', ['-s', 'INT', String(IDLE_S), 'strace', '-f', '-qq', '-o', out, '-p', String(webPid)]);
    const calls = readFileSync(out, 'latin1').split('\n').map((l) => /^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)/.exec(l)?.[1]).filter(Boolean);
    const heartbeats = calls.filter((c) => c === 'writev' || c === 'write').length;
    const files = calls.filter((c) => /^(open|openat|stat|newfstatat|statx|getdents64|readlink|access)$/.test(c)).length;
    report.row(`syscalls in ${IDLE_S} s idle, Chromium tab open`, calls.length, null, 'calls', { text: `only heartbeats (${heartbeats} writes, ${files} file calls)`, test: () => files === 0 && heartbeats <= Math.ceil(IDLE_S / 15) });
  } finally {
    await browser.close();
  }
}

async function memory(report, socket, webPid) {
  const idle = privateMiB(webPid);
  const reqs = [];
  for (let i = 0; i < 100; i++) reqs.push(await stream(socket, '/v1/events', () => {}));
  await sleep(500);
  const loaded = privateMiB(webPid);
  for (const r of reqs) r.destroy();
  report.row('tether web private memory, idle', idle, null, 'MiB');
  report.row('tether web private memory, 100 streams', loaded, null, 'MiB', { text: '<= idle + 16 MiB', test: (t) => t <= idle + 16 });
}

export async function run(report) {
  if (!existsSync('/usr/bin/s6-supervise')) return console.log('(no Debian s6: web bench skipped)');
  const scan = mkdtempSync(join(tmpdir(), 'tether-bench-web-'));
  const traceDir = mkdtempSync(join(tmpdir(), 'tether-bench-trace-'));
  try {
    const dir = join(scan, 'svc');
    mkdirSync(dir);
    writeFileSync(join(dir, 'run'), '#!/bin/sh\nexec sleep 100000\n');
    chmodSync(join(dir, 'run'), 0o755);
    started.supervise('/usr/bin/s6-supervise', [], dir);
    await until(() => existsSync(join(dir, 'supervise', 'status')) && statusPid(dir) > 0, 'the service');
    const unix = start(process.execPath, [TETHER, 'web', scan]);
    const socket = join(scan, '.tether', 'web.sock');
    await until(() => existsSync(socket), 'the socket');
    await deathLatency(report, dir, socket);
    await memory(report, socket, unix.pid);
    unix.kill('SIGTERM');
    const tcp = start(process.execPath, [TETHER, 'web', '--listen', '127.0.0.1:0', scan]);
    let err = '';
    tcp.stderr.on('data', (d) => (err += d));
    await until(() => /127\.0\.0\.1:(\d+)/.test(err), 'the TCP listener');
    globalThis.webPort = /127\.0\.0\.1:(\d+)/.exec(err)[1];
    await idleCost(report, scan, tcp.pid, traceDir);
  } finally {
    // s6-supervise leaves its service running if it is killed before it reads -dx: stop() waits, then kills the service by pid.
    await started.stop();
    rmSync(scan, { recursive: true, force: true });
    rmSync(traceDir, { recursive: true, force: true });
  }
}
