// Shared mode (`tether svscan --shared`): what one process hosting every
// supervisor must keep apart. Orphans go to the service they came from, a
// throw in one supervisor stays its own, and a killed host leaves no
// duplicate behind when the next one starts.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { procStat } from '../../src/os/proc';
import { markerOf } from '../../src/supervise/attribution';
import { cgroup2Problem, ownCgroup2 } from '../../src/os/cgroup';
import { TETHER, alive, exitOf, makeService, run, tempDir, tether } from '../lib/harness';
import { startScanner, statusPid, waitExit, waitForPath, waitUp } from './lib';

const T = ['-T', '30000'];
const svc = (...args: string[]) => run('/usr/bin/s6-svc', args);

/** A run that leaves a daemon behind (its pid in `daemon.pid`): double-forked, with or without setsid. */
function leaver(how: 'setsid' | 'fork'): string {
  const daemon = `sh -c 'echo $$ > daemon.pid.new && mv daemon.pid.new daemon.pid; exec sleep 1000'`;
  const start = how === 'setsid' ? `setsid ${daemon}` : daemon;
  return `#!/bin/sh\nrm -f daemon.pid\n(${start} &)\nexec sleep 1000\n`;
}

async function daemonOf(dir: string): Promise<number> {
  const file = join(dir, 'daemon.pid');
  await waitForPath(file);
  return Number(readFileSync(file, 'latin1').trim());
}

for (const how of ['setsid', 'fork'] as const) {
  t.test(`two services each leave a daemon (${how === 'setsid' ? 'double fork with setsid' : 'fork without setsid'}): stopping one ends exactly its own`, async (t) => {
    const scandir = tempDir(t);
    const a = makeService(join(scandir, 'a'), leaver(how));
    const b = makeService(join(scandir, 'b'), leaver(how));
    const sc = await startScanner(t, scandir, { args: ['--shared'] });
    await Promise.all([waitUp(a), waitUp(b)]);
    const [da, db] = await Promise.all([daemonOf(a), daemonOf(b)]);
    t.equal(procStat(da)?.ppid, sc.pid, 'a\'s daemon was re-parented to the host');
    t.equal(procStat(db)?.ppid, sc.pid, 'b\'s daemon too');
    const runB = statusPid(b);
    t.equal((await svc('-wD', ...T, '-d', a)).code, 0, 'a is down');
    await waitExit(t, da);
    t.notOk(alive(da), 'a\'s daemon was stopped with it');
    t.ok(alive(db), 'b\'s daemon runs on');
    t.ok(alive(runB), 'b runs on');
    t.equal((await svc('-wD', ...T, '-d', b)).code, 0, 'b is down');
    await waitExit(t, db);
    t.pass('b\'s daemon was stopped with b');
    await sc.stop();
  });
}

// Nothing attributes a daemon that calls setsid, scrubs its environment and, where services
// have cgroup2 leaves, moves itself out of its leaf (into the host's own cgroup).
const ESCAPE = cgroup2Problem() === undefined ? `echo $$ > ${join(ownCgroup2()!, 'cgroup.procs')}; ` : '';
t.test('an orphan nothing attributes is left alone by both services, named in tether status --json, and stopped with the tree', async (t) => {
  const scandir = tempDir(t);
  const daemon = `sh -c '${ESCAPE}echo $$ > daemon.pid.new && mv daemon.pid.new daemon.pid; exec sleep 1000'`;
  const a = makeService(join(scandir, 'a'), `#!/bin/sh\nrm -f daemon.pid\n(setsid env -i ${daemon} &)\nexec sleep 1000\n`);
  const b = makeService(join(scandir, 'b'), 'exec sleep 1000');
  const sc = await startScanner(t, scandir, { args: ['--shared'] });
  await Promise.all([waitUp(a), waitUp(b)]);
  const orphan = await daemonOf(a);
  t.equal(markerOf(orphan), undefined, 'it carries no marker');
  t.equal((await svc('-wD', ...T, '-d', a)).code, 0);
  t.equal((await svc('-wD', ...T, '-d', b)).code, 0);
  t.ok(alive(orphan), 'not killed as a stray of either service');
  await waitForPath(join(scandir, '.s6-svscan', 'orphans'));
  const rows = JSON.parse((await tether(['status', '--json', scandir])).stdout) as Array<Record<string, unknown>>;
  t.same(rows.filter((r) => r.kind === 'orphan'), [{ kind: 'orphan', scandir, pid: orphan, command: 'sleep 1000' }], 'tether status --json names it');
  t.same(rows.filter((r) => r.kind !== 'orphan').map((r) => r.name), ['a', 'b'], 'after the service rows, which are unchanged');
  const ex = await sc.stop();
  t.equal(ex.code, 0);
  t.notOk(alive(orphan), 'the tree\'s shutdown stopped it');
  t.match(sc.output().stderr, new RegExp(`left behind by services: ${orphan}`));
  t.notOk(existsSync(join(scandir, '.s6-svscan', 'orphans')), 'and the record went with it');
});

t.test('a throw in one service\'s supervisor: one line, that service restarted once, the other untouched', async (t) => {
  // Injected from outside the product: a preloaded module makes the
  // readiness parser throw on the line "throw" (Buffer#includes, which it
  // calls on each chunk of the notification pipe).
  const root = tempDir(t);
  const inject = join(root, 'fault.cjs');
  writeFileSync(inject, `const includes = Buffer.prototype.includes;
Buffer.prototype.includes = function (...args) {
  if (this.length === 6 && this.toString('latin1') === 'throw\\n') throw new Error('injected fault');
  return includes.apply(this, args);
};\n`);
  const scandir = join(root, 'scan');
  const bad = makeService(join(scandir, 'bad'), `#!/bin/sh
if [ -e once ]; then echo >&3; else touch once; echo throw >&3; fi
exec sleep 1000`, { 'notification-fd': '3\n' });
  const good = makeService(join(scandir, 'good'), 'echo >&3\nexec sleep 1000', { 'notification-fd': '3\n' });
  const sc = await startScanner(t, scandir, { args: ['--shared'], env: { ...process.env, NODE_OPTIONS: `--require ${inject}` } });
  t.equal((await run('/usr/bin/s6-svwait', ['-U', '-t', '30000', good])).code, 0);
  const goodPid = statusPid(good);
  await waitForPath(join(bad, 'once'));
  t.equal((await run('/usr/bin/s6-svwait', ['-U', '-t', '30000', bad])).code, 0, 'bad is up and ready again');
  const failures = sc.output().stderr.split('\n').filter((l) => /injected fault/.test(l));
  t.equal(failures.length, 1, 'one line names the fault');
  t.match(failures[0], /^tether svscan: warning: bad: supervisor failed: injected fault/);
  t.notMatch(sc.output().stderr, /supervisor for bad exited/, 'not reported twice');
  const deaths = readFileSync(join(bad, 'supervise', 'death_tally')).length / 20;
  t.equal(deaths, 0, 'the new supervisor starts a fresh death tally, as after a supervisor restart');
  t.equal(statusPid(good), goodPid, 'good was not restarted');
  t.equal((await svc('-wd', ...T, '-d', good)).code, 0, 'and still obeys');
  await sc.stop();
});

t.test('a shared host killed by SIGKILL: the next one stops the old instances first, never two at once', async (t) => {
  const scandir = tempDir(t);
  const dirs = ['a', 'b', 'c'].map((n) => makeService(join(scandir, n), `#!/bin/sh\ntrap 'exit 0' TERM\nsleep 1000 &\nwait\n`));
  const first = await startScanner(t, scandir, { args: ['--shared'] });
  await Promise.all(dirs.map(waitUp));
  const old = dirs.map(statusPid);
  // The sampler: every 10 ms, the session leaders (service instances) per service marker.
  // Only this test's services: a per-process tree elsewhere on the machine has two leaders
  // with one marker (the supervisor, started with it, and the service).
  const keys = dirs.map(serviceKey);
  let worst = 0;
  const sample = () => {
    const counts = instancesAtOnce();
    for (const key of keys) worst = Math.max(worst, counts.get(key) ?? 0);
  };
  const sampler = setInterval(sample, 10);
  t.teardown(() => clearInterval(sampler));
  process.kill(first.pid, 'SIGKILL');
  await exitOf(first.child);
  t.ok(old.every(alive), 'the instances outlive their host');
  const second = await startScanner(t, scandir, { args: ['--shared'] });
  for (const [i, dir] of dirs.entries()) {
    await waitExit(t, old[i]);
    await waitUp(dir);
    t.not(statusPid(dir), old[i], `${dir}: a new instance`);
  }
  sample();
  clearInterval(sampler);
  t.equal(worst, 1, 'never two instances of one service at once');
  t.match(second.output().stderr, /a: its previous host died; stopping its processes/);
  await second.stop();
});

/** A service's identity, as its marker carries it: dev:ino of its directory. */
function serviceKey(dir: string): string {
  const st = statSync(dir);
  return `${st.dev}:${st.ino}`;
}

/**
 * Live instances (session leaders) per service marker, counting only those
 * alive together. One pass over /proc takes tens of ms on a loaded machine,
 * and reads pids in ascending order: an old instance read early and its
 * successor, spawned after the old one died, read late in the same pass are
 * no overlap, yet such a pass counts 2. So each instance
 * seen is looked at again after the pass: those still alive then, with the
 * same start time, were all alive at the end of the pass.
 */
function instancesAtOnce(): Map<string, number> {
  const seen = new Map<string, { pid: number; start: number }[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = procStat(pid);
    if (st === null || st.sid !== pid || st.state === 'Z') continue;
    const key = markerOf(pid);
    if (key !== undefined) seen.set(key, [...(seen.get(key) ?? []), { pid, start: st.starttime }]);
  }
  const together = new Map<string, number>();
  for (const [key, list] of seen) {
    together.set(key, list.filter(({ pid, start }) => {
      const st = procStat(pid);
      return st !== null && st.state !== 'Z' && st.starttime === start;
    }).length);
  }
  return together;
}

t.test('each service gets its own stdio: x on one, or its logger\'s EOF, leaves the other\'s output alone', async (t) => {
  const scandir = tempDir(t);
  for (const n of ['a', 'b']) {
    makeService(join(scandir, n), `exec sh -c 'while :; do echo ${n}; sleep 0.2; done'`, { 'log/run': `#!/bin/sh\nexec s6-log ./main` });
  }
  const sc = await startScanner(t, scandir, { args: ['--shared'] });
  await Promise.all(['a', 'b', 'a/log', 'b/log'].map((n) => waitUp(join(scandir, n))));
  t.equal((await svc('-x', join(scandir, 'a', 'log'))).code, 0);
  t.equal((await svc('-wD', ...T, '-k', join(scandir, 'a', 'log'))).code, 0, 'a\'s logger killed after x');
  const bCurrent = join(scandir, 'b', 'log', 'main', 'current');
  const size = () => readFileSync(bCurrent).length;
  const before = size();
  await new Promise<void>((res) => {
    const w = require('node:fs').watch(join(scandir, 'b', 'log', 'main'), () => {
      if (size() > before) {
        w.close();
        res();
      }
    });
  });
  t.ok(size() > before, 'b\'s logger still gets b\'s lines');
  t.notMatch(readFileSync(bCurrent, 'latin1'), /^a$/m, 'and never a\'s');
  await sc.stop();
});

t.test('a hard open-files limit too low for the tree: one clear line and 111 before anything starts', async (t) => {
  const scandir = tempDir(t);
  for (let i = 0; i < 100; i++) makeService(join(scandir, `s${i}`), 'exec sleep 1000');
  const r = await run('prlimit', ['--nofile=500:500', process.execPath, TETHER, 'svscan', '--shared', scandir]);
  t.equal(r.code, 111);
  t.match(r.stderr, /^tether svscan: fatal: the open files limit \(500\) is too low for 100 services in one process .*\n$/);
  t.notOk(existsSync(join(scandir, 's0', 'supervise')), 'no service was started');
});

t.test('--shared and --supervisor exclude each other: usage error, 100', async (t) => {
  const r = await run(process.execPath, [TETHER, 'svscan', '--shared', '--supervisor', '/usr/bin/s6-supervise', tempDir(t)]);
  t.equal(r.code, 100);
  t.match(r.stderr, /^tether svscan: fatal: usage: .*\(usage error: --shared and --supervisor exclude each other\)\n$/);
});
