// tether status: the overview of a tree, from on-disk state only.
import t from 'tap';
import { chmodSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStatus, writeStatus, type StatusRecord } from '../../src/wire/status';
import { tainFromMs, tainNow } from '../../src/wire/tain';
import { writeDeathTally, type DeathRecord } from '../../src/wire/deathtally';
import { FifodirListener } from '../../src/wire/fifodir';
import { tryLockWrite } from '../../src/os/native';
import { bounded, exitOf, makeService, startTether, tempDir, tether, s6Restart, waitForOutput } from '../lib/harness';
import { SLEEPER, SUPERVISORS, clientListeners, mustRun, s6, supervise, waitSubscribed, TETHER_SUPERVISOR } from './lib';
import { processOnly } from '../supervise/lib';

for (const sup of SUPERVISORS) {
  t.test(sup.name, { skip: sup.missing ?? false }, async (t) => {
    // A shared scanner on the service also supervises its log/: the logger cannot get one of its own.
    t.test('a scan directory: services, loggers, and one nobody supervises', { skip: processOnly(sup) }, async (t) => {
      const scan = tempDir(t);
      const web = makeService(join(scan, 'web'), SLEEPER, { 'log/run': SLEEPER });
      const batch = makeService(join(scan, 'batch'), SLEEPER, { down: '' });
      makeService(join(scan, 'idle'), SLEEPER);
      makeService(join(scan, '.hidden'), SLEEPER);
      writeFileSync(join(scan, 'notadir'), '');
      await supervise(t, sup, web, { up: true });
      await supervise(t, sup, join(web, 'log'), { up: true });
      await supervise(t, sup, batch);
      t.equal((await s6Restart(web, '-k')).code, 0);

      const r = await tether(['status', '--json', scan]);
      t.equal(r.code, 0, r.stderr);
      const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
      t.same(rows.map((x) => x.name), ['batch', 'idle', 'web', 'web/log']);
      const by = Object.fromEntries(rows.map((x) => [x.name, x]));
      t.match(by.web, { state: 'up', pid: readStatus(web).pid, ready: null, canReportReadiness: false, deathTally: 1, last: 'SIGKILL', normallyUp: true });
      t.match(by['web/log'], { state: 'up', deathTally: 0, last: null });
      t.match(by.batch, { state: 'down', pid: null, normallyUp: false, deathTally: 0 });
      t.match(by.idle, { state: 'not supervised', pid: null });
      const sinceMs = by.web.sinceMs as number;
      t.ok(Math.abs(Date.now() - sinceMs) < 3_600_000, 'sinceMs is epoch milliseconds');
      t.equal(by.web.since, new Date(sinceMs).toISOString(), 'since is the same instant in ISO form');
      t.equal(by.web.lastAt, new Date(by.web.lastMs as number).toISOString(), 'the last death, ISO and ms');
      t.notMatch(r.stdout, /@4000/, 'no TAI64N in --json');

      const table = await tether(['status', scan], { env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '' } });
      t.equal(table.code, 0);
      const lines = table.stdout.trimEnd().split('\n');
      t.match(lines[0], /^NAME\s+STATE\s+PID\s+UPTIME\s+READY\s+RESTARTS\s+TALLY\s+LAST\s+NORMALLY$/);
      // RESTARTS: - with no scanner; a shared mode's scanner counts (test/scan/foreground.test.ts checks the count).
      t.match(lines[3], new RegExp(`^web\\s+up\\s+${readStatus(web).pid}\\s+\\d+s\\s+-\\s+[-0-9]+\\s+1\\s+SIGKILL\\s+up$`), 'READY is - where readiness cannot be reported');
      t.match(lines[2], /^idle\s+not supervised\s+-\s+-\s+-\s+-\s+0\s+-\s+up$/);
      t.match(lines[1], /^batch\s+down\s+-\s+(down \d+s|-)\s+-\s+-\s+0\s+-\s+down$/, 'a down service: its down-time labelled as such');
      t.notMatch(table.stdout, /\x1b\[/, 'no colours when stdout is not a terminal');

      const coloured = await tether(['status', scan], { env: { ...process.env, FORCE_COLOR: '1', NO_COLOR: '' } });
      t.match(coloured.stdout, /\x1b\[32mup/, 'FORCE_COLOR: up in green');
      const plain = await tether(['status', scan], { env: { ...process.env, FORCE_COLOR: '1', NO_COLOR: '1' } });
      t.notMatch(plain.stdout, /\x1b\[/, 'NO_COLOR wins');

      const one = JSON.parse((await tether(['status', '--json', web])).stdout) as Array<Record<string, unknown>>;
      t.same(one.map((x) => x.name), ['web', 'web/log'], 'a service directory is one service (and its logger)');
      const none = await tether(['status'], { cwd: scan, env: { ...process.env, TETHER_SCANDIR: '' } });
      t.equal(none.code, 100, 'no argument and no TETHER_SCANDIR: a usage error');
      t.match(none.stderr, /no scan directory: name one, or use --scandir SCANDIR or set TETHER_SCANDIR/);
      const fromEnv = JSON.parse((await tether(['status', '--json'], { env: { ...process.env, TETHER_SCANDIR: scan } })).stdout) as unknown[];
      t.equal(fromEnv.length, 4, 'no argument: TETHER_SCANDIR');
    });
  });
}

for (const sup of SUPERVISORS) {
  t.test(`crash-looping, from a real death tally (${sup.name})`, { skip: sup.missing ?? false }, async (t) => {
    const dir = makeService(join(tempDir(t), 'crashy'), 'exit 3', { down: '' });
    await supervise(t, sup, dir);
    const events = FifodirListener.subscribe(join(dir, 'event'));
    t.teardown(() => events.close());
    let deaths = 0;
    const three = bounded(new Promise<void>((res) => events.onEvents((e) => {
      deaths += [...e].filter((c) => c === 'd').length;
      if (deaths >= 3) res();
    })), 60_000, 'three deaths');
    await mustRun(s6('s6-svc'), ['-u', dir]);
    await three;
    const [row] = JSON.parse((await tether(['status', '--json', dir])).stdout) as Array<{ state: string; last: string; deathTally: number; recentDeaths: number }>;
    t.match(row, { state: 'crash-looping', last: 'exit 3' });
    t.ok(row.deathTally >= 3 && row.recentDeaths >= 3, `${row.recentDeaths} deaths within a minute`);
    await mustRun(s6('s6-svc'), ['-wd', '-T', '20000', '-d', dir]);
    const [after] = JSON.parse((await tether(['status', '--json', dir])).stdout) as Array<{ state: string }>;
    t.equal(after.state, 'down', 'wanted down: no longer crash-looping');
  });
}

t.test('states from the status record, the death tally and run', async (t) => {
  const scan = tempDir(t);
  const now = tainNow();
  const base: StatusRecord = { stamp: now, readystamp: now, pid: 0, wstat: 0, paused: false, finishing: false, wantup: false, ready: false };
  const notify = { 'notification-fd': '3\n' };
  const recent = (ago: number) => ({ stamp: tainFromMs(Date.now() - ago), exitcode: 1, sig: 0 });
  const cases: Array<{ name: string; rec: Partial<StatusRecord> | null; state: string; files?: Record<string, string>; deaths?: DeathRecord[]; run?: 'missing' | 'noexec' | 'badinterp' }> = [
    { name: 'restarting', rec: { wantup: true, wstat: 1 << 8 }, state: 'starting' },
    { name: 'finishing', rec: { pid: process.pid, finishing: true, wantup: true }, state: 'finishing' },
    { name: 'paused', rec: { pid: process.pid, paused: true, wantup: true }, state: 'paused' },
    { name: 'nostatus', rec: null, state: 'starting' },
    { name: 'stopping', rec: { pid: process.pid, wantup: false }, state: 'stopping' },
    { name: 'plainup', rec: { pid: process.pid, wantup: true }, state: 'up' },
    { name: 'notready', rec: { pid: process.pid, wantup: true }, state: 'starting', files: notify },
    { name: 'ready', rec: { pid: process.pid, wantup: true, ready: true }, state: 'ready', files: notify },
    { name: 'down', rec: { wantup: false }, state: 'down' },
    { name: 'looping', rec: { pid: process.pid, wantup: true }, state: 'crash-looping', deaths: [recent(50_000), recent(20_000), recent(1_000)] },
    { name: 'oldcrashes', rec: { pid: process.pid, wantup: true }, state: 'up', deaths: [recent(300_000), recent(200_000), recent(100_000)] },
    { name: 'norun', rec: { wantup: true, wstat: 111 << 8 }, state: 'failed to start', run: 'missing' },
    { name: 'noexec', rec: { wantup: true }, state: 'failed to start', run: 'noexec' },
    { name: 'badinterp', rec: { wantup: true }, state: 'failed to start', run: 'badinterp' },
  ];
  for (const c of cases) {
    const dir = makeService(join(scan, c.name), SLEEPER, c.files ?? {});
    if (c.run === 'missing') rmSync(join(dir, 'run'));
    if (c.run === 'noexec') chmodSync(join(dir, 'run'), 0o644);
    if (c.run === 'badinterp') writeFileSync(join(dir, 'run'), '#!/nonexistent/sh\nexit 0\n', { mode: 0o755 });
    mkdirSync(join(dir, 'supervise'));
    // This process plays the supervisor: it holds the lock.
    t.ok(tryLockWrite(openSync(join(dir, 'supervise', 'lock'), 'w')));
    if (c.rec) writeStatus(dir, { ...base, ...c.rec });
    if (c.deaths) writeDeathTally(dir, c.deaths);
  }
  const rows = JSON.parse((await tether(['status', '--json', scan])).stdout) as Array<{ name: string; state: string; reason: string | null; ready: boolean | null; recentDeaths: number }>;
  const by = Object.fromEntries(rows.map((r) => [r.name, r]));
  t.same(Object.fromEntries(rows.map((r) => [r.name, r.state])), Object.fromEntries(cases.map((c) => [c.name, c.state])));
  t.same([by.norun.reason, by.noexec.reason, by.badinterp.reason], ['run missing', 'run not executable', 'bad interpreter: /nonexistent/sh']);
  t.same([by.ready.ready, by.notready.ready, by.plainup.ready], [true, false, null], 'ready: null where it cannot be reported');
  t.same([by.looping.recentDeaths, by.oldcrashes.recentDeaths], [3, 0]);
  const table = (await tether(['status', scan], { env: { ...process.env, NO_COLOR: '1' } })).stdout;
  t.match(table, /\nbadinterp\s+failed to start \(bad interpreter: \/nonexistent\/sh\)\s/, 'the reason is in the table');

  const check = await tether(['status', '--check', scan]);
  t.same([check.code, check.stdout, check.stderr], [1, '', ''], '--check: unhealthy, silent');
  const help = await tether(['status', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: tether status /);
  t.equal((await tether(['status', '--bogus'])).code, 100);
});

t.test('status --check: 0 only when every service wanted up is up, and ready where it can be', async (t) => {
  const scan = tempDir(t);
  const now = tainNow();
  const base: StatusRecord = { stamp: now, readystamp: now, pid: process.pid, wstat: 0, paused: false, finishing: false, wantup: true, ready: true };
  const add = (name: string, rec: Partial<StatusRecord>, files: Record<string, string> = {}) => {
    const dir = makeService(join(scan, name), SLEEPER, files);
    mkdirSync(join(dir, 'supervise'));
    t.ok(tryLockWrite(openSync(join(dir, 'supervise', 'lock'), 'w')));
    writeStatus(dir, { ...base, ...rec });
    return dir;
  };
  add('web', {}, { 'notification-fd': '3\n' });
  add('worker', { ready: false });
  add('batch', { pid: 0, wantup: false }, { down: '' });
  const ok = await tether(['status', '--check', scan]);
  t.same([ok.code, ok.stdout, ok.stderr], [0, '', ''], 'healthy: exit 0, nothing printed');
  t.equal((await tether(['status', '--check'], { env: { ...process.env, TETHER_SCANDIR: scan } })).code, 0, 'TETHER_SCANDIR');
  const slow = add('slow', { ready: false }, { 'notification-fd': '3\n' });
  t.equal((await tether(['status', '--check', scan])).code, 1, 'up but not ready yet: unhealthy');
  writeStatus(slow, { ...base, ready: true });
  t.equal((await tether(['status', '--check', scan])).code, 0, 'ready: healthy again');
  makeService(join(scan, 'orphan'), SLEEPER);
  t.equal((await tether(['status', '--check', scan])).code, 1, 'a service with no supervisor: unhealthy');
});

t.test('status -w redraws on events, without polling', async (t) => {
  const scan = tempDir(t);
  const dir = makeService(join(scan, 'web'), SLEEPER, { down: '' });
  const sup = TETHER_SUPERVISOR;
  await supervise(t, sup, dir);
  const watcher = startTether(t, ['status', '-w', scan], { env: { ...process.env, NO_COLOR: '1' } });
  await waitForOutput(watcher, /web\s+down\s/);
  await waitSubscribed(dir);
  const up = waitForOutput(watcher, /web\s+up\s/);
  await mustRun(s6('s6-svc'), ['-u', dir]);
  await up;
  const down = waitForOutput(watcher, /web\s+down\s/);
  await mustRun(s6('s6-svc'), ['-d', dir]);
  t.match(await down, /web\s+down/, 'redrawn after s6-svc -d');
  const late = waitForOutput(watcher, /^late\s+not supervised/);
  makeService(join(scan, 'late'), SLEEPER);
  await late;
  t.pass('a service added to the scan directory appears (inotify)');
  watcher.kill('SIGTERM');
  t.same(await exitOf(watcher), { code: 128 + 15, signal: null }, 'SIGTERM ends it');
  t.same(clientListeners(dir), [], 'and it unsubscribed');
});
