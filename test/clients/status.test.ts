// tether status: the overview of a tree, from on-disk state only.
import t from 'tap';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStatus, writeStatus, type StatusRecord } from '../../src/wire/status';
import { tainNow } from '../../src/wire/tain';
import { tryLockWrite } from '../../src/os/native';
import { makeService, tempDir, tether, s6Restart } from '../lib/harness';
import { SLEEPER, SUPERVISORS, supervise } from './lib';
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
      t.match(by.web, { state: 'up', pid: readStatus(web).pid, ready: false, deaths: 1, last: 'SIGKILL', normallyUp: true });
      t.match(by['web/log'], { state: 'up', deaths: 0, last: null });
      t.match(by.batch, { state: 'down', pid: null, normallyUp: false, deaths: 0 });
      t.match(by.idle, { state: 'not supervised', pid: null, status: null });
      t.type((by.web.status as Record<string, unknown>).updownsince, 'string');

      const table = await tether(['status', scan], { env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '' } });
      t.equal(table.code, 0);
      const lines = table.stdout.trimEnd().split('\n');
      t.match(lines[0], /^NAME\s+STATE\s+PID\s+UPTIME\s+READY\s+DEATHS\s+LAST\s+NORMALLY$/);
      t.match(lines[3], new RegExp(`^web\\s+up\\s+${readStatus(web).pid}\\s+\\d+s\\s+no\\s+1\\s+SIGKILL\\s+up$`));
      t.match(lines[2], /^idle\s+not supervised\s+-\s+-\s+-\s+0\s+-\s+up$/);
      t.notMatch(table.stdout, /\x1b\[/, 'no colours when stdout is not a terminal');

      const coloured = await tether(['status', scan], { env: { ...process.env, FORCE_COLOR: '1', NO_COLOR: '' } });
      t.match(coloured.stdout, /\x1b\[32mup/, 'FORCE_COLOR: up in green');
      const plain = await tether(['status', scan], { env: { ...process.env, FORCE_COLOR: '1', NO_COLOR: '1' } });
      t.notMatch(plain.stdout, /\x1b\[/, 'NO_COLOR wins');

      const one = JSON.parse((await tether(['status', '--json', web])).stdout) as Array<Record<string, unknown>>;
      t.same(one.map((x) => x.name), ['web', 'web/log'], 'a service directory is one service (and its logger)');
      const cwd = JSON.parse((await tether(['status', '--json'], { cwd: scan })).stdout) as unknown[];
      t.equal(cwd.length, 4, 'no argument: the current directory');
    });
  });
}

t.test('states from the status record: wanted up, finishing, paused, starting', async (t) => {
  const scan = tempDir(t);
  const now = tainNow();
  const base: StatusRecord = { stamp: now, readystamp: now, pid: 0, wstat: 0, paused: false, finishing: false, wantup: false, ready: false };
  const cases: Array<[string, Partial<StatusRecord> | null, string]> = [
    ['crashing', { wantup: true, wstat: 1 << 8 }, 'wanted up'],
    ['finishing', { pid: process.pid, finishing: true, wantup: true }, 'finishing'],
    ['paused', { pid: process.pid, paused: true, wantup: true }, 'paused'],
    ['starting', null, 'starting'],
  ];
  for (const [name, rec] of cases) {
    const dir = makeService(join(scan, name), SLEEPER);
    mkdirSync(join(dir, 'supervise'));
    // This process plays the supervisor: it holds the lock.
    t.ok(tryLockWrite(openSync(join(dir, 'supervise', 'lock'), 'w')));
    if (rec) writeStatus(dir, { ...base, ...rec });
  }
  const rows = JSON.parse((await tether(['status', '--json', scan])).stdout) as Array<{ name: string; state: string }>;
  t.same(Object.fromEntries(rows.map((r) => [r.name, r.state])), Object.fromEntries(cases.map(([n, , s]) => [n, s])));
  const help = await tether(['status', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: tether status /);
  t.equal((await tether(['status', '--bogus'])).code, 100);
});
