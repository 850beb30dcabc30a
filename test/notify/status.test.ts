// `tether status` (table and --json) shows supervise/notify-status: the
// STATUS= line, the watchdog, the last check; s6 trees keep s6's table.
import t from 'tap';
import { join } from 'node:path';
import { makeService, tempDir, tether } from '../lib/harness';
import { startSupervisor, TETHER_SUPERVISE, waitForContent, waitForStatus } from '../supervise/lib';
import { HAVE_PYTHON, PYTHON, relayService } from './lib';
import { writeFileSync } from 'node:fs';

const skip = HAVE_PYTHON ? false : `${PYTHON} is not installed`;

async function statusRows(...args: string[]) {
  const r = await tether(['status', '--json', ...args]);
  if (r.code !== 0) throw new Error(`tether status --json: ${r.code} ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<Record<string, any>>;
}

t.test('STATUS= and the watchdog in --json and in the table; control characters do not reach the terminal', { skip }, async (t) => {
  const svc = await relayService(t, join(tempDir(t), 'svc'), { 'watchdog-usec': '60000000\n' });
  await svc.send('STATUS=serving 3 clients');
  await waitForContent(join(svc.dir, 'supervise', 'notify-status'), /"status":"serving 3 clients"/);
  let [row] = await statusRows(svc.dir);
  t.match(row.notify, { status: 'serving 3 clients', stopping: false, reloading: false, watchdog: { usec: 60000000, armed: false }, check: null, reason: null });
  t.equal(row.state, 'starting', 'notify-socket: readiness expected');
  await svc.send('READY=1\nSTATUS=\u001b[2Jready');
  await waitForStatus(svc.dir, (s) => s.ready, 'ready');
  [row] = await statusRows(svc.dir);
  t.equal(row.state, 'ready');
  t.match(row.notify, { status: '\u001b[2Jready', watchdog: { armed: true } }, 'JSON keeps the line as sent; the watchdog is armed at readiness');
  const table = (await tether(['status', svc.dir])).stdout.split('\n');
  t.match(table[0], /^NAME\s+STATE\s+PID\s+UPTIME\s+READY\s+RESTARTS\s+TALLY\s+LAST\s+NORMALLY\s+DETAIL$/);
  t.match(table[1], /\s"\?\[2Jready"; watchdog 60000ms armed$/, 'the table shows it, escape made harmless');
  t.notMatch(table.join('\n'), /\u001b/, 'no escape character on the terminal');
});

t.test('a check\'s result in --json and the table; a plain service has no DETAIL column', { skip }, async (t) => {
  const scan = tempDir(t);
  const checked = join(scan, 'checked');
  makeService(checked, 'exec sleep 1000', { 'check-interval': '100\n' });
  writeFileSync(join(checked, 'check'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const plain = join(scan, 'plain');
  makeService(plain, 'exec sleep 1000');
  await startSupervisor(t, TETHER_SUPERVISE, checked);
  await waitForStatus(checked, (s) => s.pid > 0 && s.ready, 'ready through check');
  await waitForContent(join(checked, 'supervise', 'notify-status'), /"check":\{"ok":true/);
  const [row] = await statusRows(checked);
  t.match(row.notify, { check: { ok: true, code: 0, timedOut: false, failures: 0 }, watchdog: null, status: null });
  t.ok(Number.isFinite(row.notify.check.sinceMs), 'since, as epoch ms too');
  const table = (await tether(['status', scan])).stdout.split('\n');
  t.match(table[1], /^checked\s+ready\s.*\scheck ok$/);
  t.match(table[2], /^plain\s+not supervised\s/);
  await startSupervisor(t, TETHER_SUPERVISE, plain);
  await waitForStatus(plain, (s) => s.pid > 0, 'plain up');
  const [plainRow] = await statusRows(plain);
  t.equal(plainRow.notify, null, 'no extension, no notify-status');
  t.match((await tether(['status', plain])).stdout.split('\n')[0], /^NAME\s+STATE\s+PID\s+UPTIME\s+READY\s+RESTARTS\s+TALLY\s+LAST\s+NORMALLY$/, 's6\'s columns only');
});
