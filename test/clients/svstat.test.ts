// tether svstat against Debian's s6-svstat on the same directory, under each
// supervisor. tether prints what the newest s6 prints; where Debian's 2.11
// differs, the test says how:
//   - legacy line: 2.11 prints `up (pid P)`, the newest s6 `up (pid P pgid P)`;
//   - 2.11 has no pgid field (`-o pgid` and `-g` are usage errors there);
//   - the newest s6 prints `down (not started yet)` for a supervisor that has
//     not spawned run yet (flags: paused and no pid); 2.11 does not know that
//     marker and prints `down (exitcode 0) S seconds...`;
//   - `-o paused`: 2.11 prints the flag; the newest s6 prints paused && pid.
import t, { type Test } from 'tap';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStatus, writeStatus, notStartedYet } from '../../src/wire/status';
import { tainNow } from '../../src/wire/tain';
import { notifyFifodir, makeFifodir } from '../../src/wire/fifodir';
import { tryLockWrite } from '../../src/os/native';
import { exitOf, makeService, run, startTether, tempDir, tether } from '../lib/harness';
import { NOTIFIER, SLEEPER, SUPERVISORS, mustRun, s6, supervise } from './lib';

/** 2.11's spelling of the newest s6's legacy line. */
const as211 = (line: string) => line.replace(/^up \(pid (\d+) pgid \1\)/, 'up (pid $1)');

const FIELDS_211 = 'up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor';

/**
 * Asserts that tether and s6-svstat print the same bytes (after `map`).
 * tether runs before and after s6: a count of seconds may grow between the
 * runs on a busy machine, so each number s6 prints must lie between the
 * numbers tether printed before and after; every other byte must match.
 */
async function sameAsS6(t: Test, dir: string, args: string[], map: (s: string) => string = (s) => s, what = args.join(' ') || 'legacy') {
  const before = await tether(['svstat', ...args, dir]);
  const theirs = await run(s6('s6-svstat'), [...args, dir]);
  const after = await tether(['svstat', ...args, dir]);
  t.equal(before.code, theirs.code, `${what}: same exit code`);
  t.ok(bracketed(map(before.stdout), theirs.stdout, map(after.stdout)), `${what}: same output`, { tether: before.stdout, s6: theirs.stdout, tetherAfter: after.stdout });
  return before.stdout;
}

function bracketed(lo: string, mid: string, hi: string): boolean {
  const split = (x: string) => x.split(/(\d+)/);
  const [a, b, c] = [split(lo), split(mid), split(hi)];
  if (a.length !== b.length || b.length !== c.length) return false;
  return b.every((tok, i) => (i % 2 === 0 ? tok === a[i] && tok === c[i] : Number(a[i]) <= Number(tok) && Number(tok) <= Number(c[i])));
}

for (const sup of SUPERVISORS) {
  t.test(sup.name, { skip: sup.missing ?? false }, async (t) => {
    t.test('the same output as s6-svstat through a service\'s life', async (t) => {
      const base = tempDir(t);
      const dir = makeService(join(base, 'svc'), NOTIFIER, { 'notification-fd': '3\n' });
      await supervise(t, sup, dir);
      await mustRun(s6('s6-svwait'), ['-U', '-t', '20000', dir]);
      const check = async (state: string) => {
        const line = await sameAsS6(t, dir, [], as211, `${state}: legacy`);
        await sameAsS6(t, dir, ['-n'], as211, `${state}: -n`);
        await sameAsS6(t, dir, ['-o', FIELDS_211], undefined, `${state}: -o every 2.11 field`);
        await sameAsS6(t, dir, ['-uwNrpest'], undefined, `${state}: short options`);
        return line;
      };
      const pid = readStatus(dir).pid;
      t.match(await check('up and ready'), new RegExp(`^up \\(pid ${pid} pgid ${pid}\\) \\d+ seconds, ready \\d+ seconds\\n$`));

      await mustRun(s6('s6-svc'), ['-p', dir]);
      t.match(await check('paused'), /, paused, ready/);
      await mustRun(s6('s6-svc'), ['-c', dir]);

      await mustRun(s6('s6-svc'), ['-wD', '-T', '20000', '-d', dir]);
      t.match(await check('down by SIGTERM'), /^down \(signal SIGTERM\) \d+ seconds, normally up, ready \d+ seconds\n$/);
      t.match(await tether(['svstat', '-n', dir]), { stdout: /^down \(signal 15\)/ });

      writeFileSync(join(dir, 'down'), '');
      await mustRun(s6('s6-svc'), ['-wu', '-T', '20000', '-o', dir]);
      t.match(await check('up once, normally down'), /^up \(pid \d+ pgid \d+\) \d+ seconds, normally down, want down/);
      await mustRun(s6('s6-svc'), ['-wD', '-T', '20000', '-d', dir]);

      const exiter = makeService(join(base, 'exiter'), 'exit 3', { down: '' });
      await supervise(t, sup, exiter);
      await mustRun(s6('s6-svc'), ['-wD', '-T', '20000', '-o', exiter]);
      const line = await sameAsS6(t, exiter, [], as211, 'exit code 3: legacy');
      t.match(line, /^down \(exitcode 3\) \d+ seconds, ready \d+ seconds\n$/);
      await sameAsS6(t, exiter, ['-o', 'exitcode,signal,signum,up,pid'], undefined, 'exit code 3: -o');
    });

    t.test('a service that has not started yet', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
      await supervise(t, sup, dir);
      const rec = readStatus(dir);
      const ours = (await tether(['svstat', dir])).stdout;
      const theirs = (await run(s6('s6-svstat'), [dir])).stdout;
      if (notStartedYet(rec)) {
        // A supervisor that writes the newest s6's marker.
        t.equal(ours, 'down (not started yet)\n');
        t.match(theirs, /^down \(exitcode 0\) \d+ seconds, ready \d+ seconds\n$/, '2.11 does not know the marker');
        t.equal((await tether(['svstat', '-o', 'paused', dir])).stdout, 'false\n', 'paused && pid');
        t.equal((await run(s6('s6-svstat'), ['-o', 'paused', dir])).stdout, 'true\n', '2.11 prints the raw flag');
      } else {
        // Seconds may tick between the two commands: s6's count lies between tether's before and after.
        const after = (await tether(['svstat', dir])).stdout;
        t.ok(bracketed(ours, theirs, after), 'no marker: both print the exit code line', { tether: ours, s6: theirs, tetherAfter: after });
      }
    });

    t.test('-o every field, and --json with the same values', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
      await supervise(t, sup, dir, { up: true });
      const pid = readStatus(dir).pid;
      const all = 'up,wantedup,normallyup,ready,paused,pid,pgid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor';
      const r = await tether(['svstat', '-o', all, dir]);
      t.equal(r.code, 0);
      const v = r.stdout.trimEnd().split(' ');
      t.same(v.slice(0, 10), ['true', 'true', 'true', 'false', 'false', String(pid), String(pid), '-1', 'NA', '-1']);
      t.match(v[10], /^@[0-9a-f]{24}$/);
      t.match(v[11], /^@[0-9a-f]{24}$/);
      t.match(v[12], /^\d+$/);
      t.equal((await tether(['svstat', '-g', dir])).stdout, `${pid}\n`, '-g is pgid');
      t.equal((await run(s6('s6-svstat'), ['-o', 'pgid', dir])).code, 100, '2.11 rejects pgid');

      const j = JSON.parse((await tether(['svstat', '--json', dir])).stdout);
      t.same(j, {
        up: true, wantedup: true, normallyup: true, ready: false, paused: false, pid, pgid: pid,
        exitcode: null, signal: null, signum: null, updownsince: v[10], readysince: v[11],
        updownfor: j.updownfor, readyfor: j.readyfor, finishing: false, notStartedYet: false,
      });
      t.type(j.updownfor, 'number');

      await mustRun(s6('s6-svc'), ['-wD', '-T', '20000', '-d', dir]);
      const down = JSON.parse((await tether(['svstat', '--json', dir])).stdout);
      t.match(down, { up: false, wantedup: false, pid: null, exitcode: null, signal: 'SIGTERM', signum: 15 });
      t.equal((await tether(['svstat', '-o', 'signal,signum,exitcode,pid,pgid', dir])).stdout, 'SIGTERM 15 -1 -1 -1\n');
    });
  });
}

t.test('no supervisor: exit 1 with s6-svstat\'s message; bad fields: 100', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  let r = await tether(['svstat', dir]);
  t.equal(r.code, 1);
  t.equal(r.stderr, `tether svstat: fatal: not supervised: no supervisor is running on ${dir}\n`);
  t.equal((await run(s6('s6-svstat'), [dir])).code, 1, 's6-svstat agrees');
  r = await tether(['svstat', '-o', 'up,bogus', dir]);
  t.equal(r.code, 100);
  t.equal(r.stderr, 'tether svstat: fatal: invalid option field: bogus\n');
  r = await tether(['svstat', '-o', 'up,up,up,up,up,up,up,up,up,up,up,up,up,up,up,up,up', dir]);
  t.equal(r.code, 100);
  t.match(r.stderr, /too many option fields/);
  r = await tether(['svstat']);
  t.equal(r.code, 100);
  r = await tether(['svstat', '-h']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^usage: tether svstat /);
});

t.test('a supervisor still starting (lock held, no status yet): svstat 111, waits wait for it', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  mkdirSync(join(dir, 'supervise'));
  makeFifodir(join(dir, 'event'));
  // This test process plays the supervisor between taking its lock and its first status write.
  const fd = openSync(join(dir, 'supervise', 'lock'), 'w');
  t.ok(tryLockWrite(fd));
  let r = await tether(['svstat', dir]);
  t.equal(r.code, 111);
  t.match(r.stderr, /unable to read status for .*: No such file or directory/);
  t.equal((await run(s6('s6-svstat'), [dir])).code, 111, 's6-svstat agrees');

  const waiter = startTether(t, ['svwait', '-u', '-t', '20000', dir]);
  const exit = exitOf(waiter);
  // The waiter is subscribed once its FIFO shows in event/.
  await new Promise<void>((resolve) => {
    const { readdirSync, watch } = require('node:fs') as typeof import('node:fs');
    const has = () => readdirSync(join(dir, 'event')).some((n) => n.startsWith('ftrig1:@'));
    if (has()) return resolve();
    const w = watch(join(dir, 'event'), () => {
      if (has()) {
        w.close();
        resolve();
      }
    });
  });
  const now = tainNow();
  writeStatus(dir, { stamp: now, readystamp: now, pid: process.pid, wstat: 0, paused: false, finishing: false, wantup: true, ready: false });
  notifyFifodir(join(dir, 'event'), 's');
  t.same(await exit, { code: 0, signal: null }, 'svwait saw the status after the s event');
  r = await tether(['svstat', '-o', 'up,pid', dir]);
  t.equal(r.stdout, `true ${process.pid}\n`);
});
