// Load: many clients at once, many listeners on one service, many
// crash-looping services, each beside Debian's s6 in the same run:
// - LOAD_SVC `svc -u` clients, LOAD_CONCURRENCY at a time (wall time);
// - LOAD_LISTENERS `svwait -u` clients on one down service: the time until
//   all have subscribed, then the p99 of `svc -u` -> each one's exit;
// - LOAD_CRASHERS services whose run exits at once, for LOAD_CRASH_S
//   seconds: the CPU their supervisors spend, and the p99 of a healthy
//   sibling's `svstat` meanwhile;
// - LOAD_SHARED_CRASHERS such services in one `tether svscan --shared`,
//   beside s6-svscan and its s6-supervise processes: the CPU of the whole
//   tree's supervision, whether it keeps up (restarts done against one per
//   service and second, the throttle's pace) and the most zombies seen.
// tether's clients talk to `tether supervise`, s6's to s6-supervise. The
// environment variables scale it down (the row names say the counts used);
// run alone with `node scripts/bench.mjs load`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, cpuTicks, percentile, sleep, Started, until, writeService } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const TETHER = join(ROOT, 'bin', 'tether.js');
const env = (name, dflt) => Number(process.env[name] || dflt);
const SVC = env('LOAD_SVC', 1000);
const CONCURRENCY = env('LOAD_CONCURRENCY', 16);
const LISTENERS = env('LOAD_LISTENERS', 300);
const CRASHERS = env('LOAD_CRASHERS', 50);
const CRASH_S = env('LOAD_CRASH_S', 20);
const SHARED_CRASHERS = env('LOAD_SHARED_CRASHERS', 100);
const BOUND_MS = 300_000;
const TICK_MS = 1000 / 100; // USER_HZ

const KINDS = {
  tether: {
    supervise: [process.execPath, [TETHER, 'supervise']],
    client: (name, ...args) => [process.execPath, [TETHER, name, ...args]],
  },
  s6: {
    supervise: ['/usr/bin/s6-supervise', []],
    client: (name, ...args) => [`/usr/bin/s6-${name}`, args],
  },
};

function supervise(started, kind, dir) {
  const [cmd, args] = KINDS[kind].supervise;
  return started.supervise(cmd, args, dir);
}

async function supervised(started, kind, dir) {
  supervise(started, kind, dir);
  await until(() => existsSync(join(dir, 'supervise', 'status')), `${dir} supervised by ${kind}`, BOUND_MS);
}

/** Spawns one client and resolves with performance.now() at its exit; rejects on a non-zero exit. */
function client(started, kind, name, ...args) {
  const [cmd, argv] = KINDS[kind].client(name, ...args);
  const child = started.spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(performance.now())
    : reject(new Error(`${kind} ${name} ${args.join(' ')} exited ${code}`)))));
}

/** Wall ms for SVC `svc -u` clients, CONCURRENCY at a time, on an up service. */
async function svcClients(root, kind) {
  const started = new Started();
  const dir = writeService(join(root, `${kind}-svc`), 'exec sleep 100000');
  try {
    await supervised(started, kind, dir);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < SVC) await client(started, kind, 'svc', '-u', dir);
    }));
    return performance.now() - t0;
  } finally {
    await started.stop();
  }
}

const listenersOf = (dir) => readdirSync(join(dir, 'event')).filter((n) => n.startsWith('ftrig1')).length;

/** LISTENERS `svwait -u` clients on a down service: ms until all subscribed, and the p99 ms from `svc -u` to each exit. */
async function listeners(root, kind) {
  const started = new Started();
  const dir = writeService(join(root, `${kind}-listen`), 'exec sleep 100000', { down: true });
  try {
    await supervised(started, kind, dir);
    const t0 = performance.now();
    const exits = Array.from({ length: LISTENERS }, () => client(started, kind, 'svwait', '-u', '-t', String(BOUND_MS), dir));
    await until(() => listenersOf(dir) === LISTENERS, `${LISTENERS} ${kind} listeners`, BOUND_MS);
    const subscribing = performance.now() - t0;
    const t1 = performance.now();
    spawnSync('/usr/bin/s6-svc', ['-u', dir]);
    const released = (await Promise.all(exits)).map((t) => t - t1);
    return { subscribing, p99: percentile(released, 99) };
  } finally {
    await started.stop();
  }
}

/**
 * CRASHERS services that exit as soon as they start, for CRASH_S seconds:
 * the CPU ms of their supervisors, and the p99 ms of a healthy sibling's
 * `svstat`, run one after another meanwhile.
 */
async function crashLoop(root, kind) {
  const started = new Started();
  try {
    const sibling = writeService(join(root, `${kind}-sibling`), 'exec sleep 100000');
    await supervised(started, kind, sibling);
    const pids = [];
    for (let i = 0; i < CRASHERS; i++) {
      const dir = writeService(join(root, `${kind}-crash-${i}`), 'exit 1');
      pids.push(supervise(started, kind, dir).pid);
    }
    await sleep(2000); // past the supervisors' own start-up
    const before = pids.reduce((acc, pid) => acc + cpuTicks(pid), 0);
    const end = performance.now() + CRASH_S * 1000;
    const samples = [];
    while (performance.now() < end) {
      const t0 = performance.now();
      samples.push((await client(started, kind, 'svstat', sibling)) - t0);
    }
    const ticks = pids.reduce((acc, pid) => acc + cpuTicks(pid), 0) - before;
    return { cpuMs: ticks * TICK_MS, svstatP99: percentile(samples, 99) };
  } finally {
    await started.stop();
  }
}

function isZombie(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch {
    return false;
  }
}

/** Deaths recorded in a service's death tally (14 bytes each); 0 before the first. */
function deaths(dir) {
  try {
    return statSync(join(dir, 'supervise', 'death_tally')).size / 14;
  } catch {
    return 0;
  }
}

const SCANNERS = {
  tether: [TETHER, ['svscan', '--shared']],
  s6: ['/usr/bin/s6-svscan', []],
};

/**
 * SHARED_CRASHERS crash-looping services and a healthy sibling under one
 * scanner for CRASH_S seconds: tether's shared host against s6-svscan and
 * its s6-supervise processes. The CPU of the supervision (tether: the one
 * host; s6: the scanner and every supervisor), the restarts done against
 * the throttle's pace (one per service and second), the most zombies any
 * of those processes had at once (sampled between svstat runs), and the
 * sibling's svstat p99.
 */
export async function sharedCrashLoop(root, kind) {
  const started = new Started();
  const scandir = join(root, `${kind}-shared-scan`);
  const sibling = writeService(join(scandir, 'sibling'), 'exec sleep 100000');
  const crashers = Array.from({ length: SHARED_CRASHERS }, (_, i) => writeService(join(scandir, `crash-${i}`), 'exit 1'));
  const [cmd, args] = SCANNERS[kind];
  const scanner = started.spawn(cmd, [...args, scandir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const supervisors = () => (kind === 'tether' ? [scanner.pid] : [scanner.pid, ...childrenOf(scanner.pid)]);
  try {
    await until(() => [sibling, ...crashers].every((d) => existsSync(join(d, 'supervise', 'status'))), `${kind} shared tree up`, BOUND_MS);
    await sleep(2000);
    const pids = supervisors();
    const ticks = () => pids.reduce((acc, pid) => acc + cpuTicks(pid), 0);
    const allDeaths = () => crashers.reduce((acc, d) => acc + deaths(d), 0);
    const before = ticks();
    const deathsBefore = allDeaths();
    const end = performance.now() + CRASH_S * 1000;
    const samples = [];
    let zombies = 0;
    while (performance.now() < end) {
      zombies = Math.max(zombies, pids.reduce((acc, pid) => acc + childrenOf(pid).filter(isZombie).length, 0));
      const t0 = performance.now();
      samples.push((await client(started, kind, 'svstat', sibling)) - t0);
    }
    return {
      cpuMs: (ticks() - before) * TICK_MS,
      restarts: allDeaths() - deathsBefore,
      zombies,
      svstatP99: percentile(samples, 99),
    };
  } finally {
    if (kind === 'tether') scanner.kill('SIGTERM');
    else spawnSync('/usr/bin/s6-svscanctl', ['-t', scandir]);
    await new Promise((res) => {
      const timer = setTimeout(res, 30_000);
      if (scanner.exitCode !== null) res();
      scanner.once('exit', () => { clearTimeout(timer); res(); });
    });
    await started.stop();
  }
}

export async function run(report) {
  if (!existsSync('/usr/bin/s6-supervise')) return console.log('(no Debian s6: load bench skipped)');
  const root = mkdtempSync(join(tmpdir(), 'tether-bench-load-'));
  const both = async (fn) => ({ tether: await fn(root, 'tether'), s6: await fn(root, 's6') });
  try {
    const svc = await both(svcClients);
    report.row(`${SVC} svc -u clients, ${CONCURRENCY} at a time (wall)`, svc.tether, svc.s6, 'ms');
    const l = await both(listeners);
    report.row(`${LISTENERS} svwait -u clients: all subscribed`, l.tether.subscribing, l.s6.subscribing, 'ms');
    report.row(`${LISTENERS} svwait -u clients: svc -u -> exit, p99`, l.tether.p99, l.s6.p99, 'ms');
    const c = await both(crashLoop);
    report.row(`${CRASHERS} crash-looping services, ${CRASH_S} s: supervisors' CPU`, c.tether.cpuMs, c.s6.cpuMs, 'ms');
    report.row('a sibling\'s svstat meanwhile, p99', c.tether.svstatP99, c.s6.svstatP99, 'ms');
    const sh = await both(sharedCrashLoop);
    const name = `shared: ${SHARED_CRASHERS} crash-looping services in one scanner, ${CRASH_S} s`;
    report.row(`${name}: CPU`, sh.tether.cpuMs, sh.s6.cpuMs, 'ms');
    report.row(`${name}: restarts done (throttle pace ${SHARED_CRASHERS * CRASH_S})`, sh.tether.restarts, sh.s6.restarts, '',
      { text: `>= 90% of ${SHARED_CRASHERS * CRASH_S}`, test: (a) => a >= 0.9 * SHARED_CRASHERS * CRASH_S });
    report.row(`${name}: most zombies at once`, sh.tether.zombies, sh.s6.zombies, '');
    report.row('a sibling\'s svstat meanwhile, p99 (shared)', sh.tether.svstatP99, sh.s6.svstatP99, 'ms');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
