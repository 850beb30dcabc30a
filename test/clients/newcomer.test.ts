// The client bugs a newcomer hit (issue 14), each case failing on the code
// before the fix: per-directory readiness in svc -wU, svwait -U on a service
// that cannot report readiness, empty directory lists, an adopted daemon's
// pgid, command words in the API, and service names under a scan directory.
import t from 'tap';
import { mkfifo } from '../../src/os/native';
import { openSync, closeSync, constants, readFileSync } from 'node:fs';
import { waitForPath, waitForStatus } from '../supervise/lib';
import { join } from 'node:path';
import { procStat } from '../../src/os/proc';
import { readStatus } from '../../src/wire/status';
import { svc, svwait } from '../../src/client/api';
import { commandBytes } from '../../src/client/svc';
import { Failure as ClientError } from '../../src/base/exit';
import { makeService, tempDir, tether } from '../lib/harness';
import { NOTIFIER, SLEEPER, SUPERVISORS, mustRun, s6, supervise, TETHER_SUPERVISOR } from './lib';

const TETHER_SUP = TETHER_SUPERVISOR;

for (const sup of SUPERVISORS) {
  t.test(sup.name, { skip: sup.missing ?? false }, async (t) => {
    t.test('svc -wU -u a b: each directory is checked for notification-fd', async (t) => {
      const base = tempDir(t);
      const plain = makeService(join(base, 'plain'), SLEEPER, { down: '' });
      // Ready only once the test writes to its gate: until then up, not ready.
      const gated = makeService(join(base, 'gated'), 'read x < ./gate\necho >&3\nexec sleep 1000', { 'notification-fd': '3\n', down: '' });
      mkfifo(join(gated, 'gate'), 0o600);
      await supervise(t, sup, plain);
      await supervise(t, sup, gated);
      for (const order of [[plain, gated], [gated, plain]]) {
        const r = await tether(['svc', '-wU', '-T', '1500', '-u', ...order]);
        t.equal(r.code, 99, `svc -wU ${order.map((d) => d.slice(base.length + 1)).join(' ')}: waits for gated's readiness, whatever the order`);
        t.equal(r.stderr.match(/not present - ignoring request for readiness notification/g)?.length, 1, 'one warning');
        t.match(r.stderr, `${join(plain, 'notification-fd')} not present`, 'for the directory without notification-fd');
      }
      t.notOk(readStatus(gated).ready, 'gated is up but not ready');
      const gate = openSync(join(gated, 'gate'), constants.O_WRONLY);
      closeSync(gate);
      const r = await tether(['svc', '-wU', '-T', '20000', '-u', plain, gated]);
      t.equal(r.code, 0, `ready once gated reports it: ${r.stderr}`);
      t.ok(readStatus(gated).ready);
    });

    t.test('svwait -U on a service without notification-fd exits 99 at once', async (t) => {
      const base = tempDir(t);
      const plain = makeService(join(base, 'plain'), SLEEPER);
      const ready = makeService(join(base, 'ready'), NOTIFIER, { 'notification-fd': '3\n' });
      await supervise(t, sup, plain, { up: true });
      await supervise(t, sup, ready, { up: true });
      await mustRun(s6('s6-svwait'), ['-U', '-t', '20000', ready]);
      for (const flag of ['-U', '-R']) {
        const r = await tether(['svwait', flag, plain]);
        t.equal(r.code, 99, `svwait ${flag} without -t does not wait for ever`);
        t.match(r.stderr, `tether svwait: fatal: ${plain} cannot report readiness (${join(plain, 'notification-fd')} not present)`);
      }
      t.equal((await tether(['svwait', '-U', ready, plain])).code, 99, '-a: one that cannot report is enough to fail');
      t.equal((await tether(['svwait', '-U', '-o', '-t', '20000', ready, plain])).code, 0, '-o: the one that can report is ready');
      const err = await svwait(plain, 'ready').catch((e: unknown) => e);
      t.ok(err instanceof ClientError && err.exitCode === 99, 'the API rejects the same way');
      t.equal((await tether(['svwait', '-u', '-t', '20000', plain])).code, 0, '-u still works');
    });
  });
}

t.test('no directory: svwait exits 100, svwait([]) and svc([]) reject', async (t) => {
  const r = await tether(['svwait']);
  t.equal(r.code, 100);
  t.match(r.stderr, /^tether svwait: fatal: usage: tether svwait .*no service directory/);
  t.equal((await tether(['svwait', '-U', '-t', '100'])).code, 100, 'with options too');
  for (const [what, p] of [['svwait([])', svwait([], 'up')], ['svc([])', svc([], 'up')]] as const) {
    const err = await p.catch((e: unknown) => e);
    t.ok(err instanceof ClientError && err.exitCode === 100, `${what} rejects with code 100`);
  }
});

// Checked by `tsc --noEmit` (npm test): letters in a plain string do not typecheck.
export function typeLevelWords(dir: string): void {
  // @ts-expect-error 'ud' is not a command word: letters go in { letters }
  void svc(dir, 'ud');
  void svc(dir, 'up');
}

t.test('svc() takes command words, or letters only through { letters }', async (t) => {
  t.equal(commandBytes('up'), 'u', "'up' is one command, not u + p (p is SIGSTOP)");
  t.equal(commandBytes('down'), 'd', "'down' is d, not d + o + w + n");
  t.equal(commandBytes(['pause', 'cont', 'int', 'usr1', 'exit']), 'pci1x');
  t.equal(commandBytes({ letters: 'du' }), 'du', 'letters only when said so');
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
  await supervise(t, TETHER_SUP, dir);
  await svc(dir, 'up', { wait: 'up', timeoutMs: 20_000 });
  const st = readStatus(dir);
  t.ok(st.pid > 0 && !st.paused, "'up' brings it up and does not pause it (it was u + p)");
  t.equal(procStat(st.pid)?.state === 'T', false, 'the process is not stopped');
  await svc(dir, 'down', { wait: 'down', timeoutMs: 20_000 });
  t.equal(readStatus(dir).pid, 0, "'down' works (it was refused: unknown command: w)");
  await svc(dir, { letters: 'u' }, { wait: 'up', timeoutMs: 20_000 });
  t.ok(readStatus(dir).pid > 0, '{ letters } sends s6 letters');
  await svc(dir, ['pause', 'cont']);
  for (const bad of ['ud', 'u', 'upp', '', { letters: 'uZ' }, 42, null, ['up', 'nope']]) {
    const err = await svc(dir, bad as never).catch((e: unknown) => e);
    t.ok(err instanceof TypeError, `${JSON.stringify(bad)} is a TypeError`);
  }
  t.ok(readStatus(dir).pid > 0 && !readStatus(dir).paused, 'nothing was sent by the refused calls');
});

t.test('svstat: the pgid of an adopted daemon is its real process group', async (t) => {
  // run backgrounds the daemon in run's own process group, then exits.
  const dir = makeService(join(tempDir(t), 'daemon'), 'sleep 1000 &\necho $! > daemon.pid\nexit 0', { pidfile: 'daemon.pid\n' });
  await supervise(t, TETHER_SUP, dir, { up: true });
  await waitForPath(join(dir, 'daemon.pid'));
  const pid = Number(readFileSync(join(dir, 'daemon.pid'), 'latin1').trim());
  await waitForStatus(dir, (s) => s.pid === pid, 'the daemon adopted');
  const pgid = procStat(pid)!.pgid;
  t.not(pgid, pid, 'the daemon is not its own group leader');
  const r = await tether(['svstat', dir]);
  t.match(r.stdout, new RegExp(`^up \\(pid ${pid} pgid ${pgid}\\) `), 'the one-line form');
  t.equal((await tether(['svstat', '-o', 'pid,pgid', dir])).stdout, `${pid} ${pgid}\n`, '-o pid,pgid');
  t.equal(JSON.parse((await tether(['svstat', '--json', dir])).stdout).pgid, pgid, '--json');
});

t.test('a service name under --scandir or TETHER_SCANDIR', async (t) => {
  const scan = tempDir(t);
  const web = makeService(join(scan, 'web'), SLEEPER, { down: '' });
  await supervise(t, TETHER_SUP, web);
  const env = { ...process.env, TETHER_SCANDIR: scan };
  t.equal((await tether(['svc', '-wu', '-T', '20000', '-u', 'web', '--scandir', scan])).code, 0, 'svc --scandir');
  t.match((await tether(['svstat', 'web'], { env })).stdout, /^up /, 'svstat with TETHER_SCANDIR');
  t.equal((await tether(['svok', '--scandir', scan, 'web'])).code, 0, 'svok');
  t.equal((await tether(['svwait', '-u', '-t', '20000', 'web'], { env })).code, 0, 'svwait');
  const rows = JSON.parse((await tether(['status', '--json', 'web'], { env })).stdout) as Array<{ name: string; state: string }>;
  t.same(rows.map((r) => [r.name, r.state]), [['web', 'up']], 'status NAME');
  t.equal((await tether(['svok', 'web'], { cwd: scan, env: { ...process.env, TETHER_SCANDIR: '' } })).code, 0, 'without a scan dir, web is ./web');
  t.equal((await tether(['svok', join(scan, 'web')], { env: { ...env, TETHER_SCANDIR: '/nonexistent' } })).code, 0, 'a path with a slash is a path');
  t.equal((await tether(['svc', '--scandir'])).code, 100, '--scandir needs a value');
});
