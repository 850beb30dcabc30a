// svwait, svlisten, svok, svdt, svdt-clear and the watch API, against each
// supervisor. Every wait is bounded; no test sleeps (the idle window of the
// polling test is a measurement).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readStatus } from '../../src/wire/status';
import { svwait, svc, watchService, type ServiceChange } from '../../src/client/api';
import { Failure as ClientError } from '../../src/base/exit';
import { TETHER, bounded, exitOf, makeService, run, startTether, tempDir, tether, s6Restart } from '../lib/harness';
import { NOTIFIER, SLEEPER, SUPERVISORS, clientListeners, mustRun, s6, supervise, waitSubscribed } from './lib';
import { endOf, processOnly } from '../supervise/lib';

const T = ['-t', '20000'];

for (const sup of SUPERVISORS) {
  t.test(sup.name, { skip: sup.missing ?? false }, async (t) => {
    t.test('svwait: -u -d with -a and -o over two services', async (t) => {
      const base = tempDir(t);
      const up = makeService(join(base, 'up'), SLEEPER);
      const down = makeService(join(base, 'down'), SLEEPER, { down: '' });
      await supervise(t, sup, up, { up: true });
      await supervise(t, sup, down);
      t.equal((await tether(['svwait', '-u', '-o', ...T, up, down])).code, 0, '-u -o: one is up');
      t.equal((await tether(['svwait', '-d', '-o', ...T, up, down])).code, 0, '-d -o: one is down');
      t.equal((await tether(['svwait', '-u', '-a', '-t', '300', up, down])).code, 99, '-u -a: times out');
      t.equal((await tether(['svwait', '-d', '-t', '300', up, down])).code, 99, '-d (all by default): times out');
      t.equal((await tether(['svwait', '-D', ...T, down])).code, 0, '-D: the down one is finished');

      // -a needs both: it returns only once the second one comes up.
      const waiter = startTether(t, ['svwait', '-u', '-a', ...T, up, down]);
      const exit = exitOf(waiter);
      await waitSubscribed(down);
      await mustRun(s6('s6-svc'), ['-u', down]);
      t.same(await exit, { code: 0, signal: null }, '-u -a returned after the second came up');
    });

    t.test('svwait -U, -d, -D, -r, -R follow transitions made while waiting', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), NOTIFIER, { 'notification-fd': '3\n', down: '' });
      await supervise(t, sup, dir);
      const cases: Array<[string, string[], (pid: number) => void]> = [
        ['-U', ['-u'], () => t.ok(readStatus(dir).ready, 'ready')],
        ['-d', ['-d'], () => t.equal(readStatus(dir).pid === 0 || readStatus(dir).finishing, true, 'down')],
        ['-u', ['-u'], () => t.ok(readStatus(dir).pid > 0)],
        ['-r', ['-r'], (before) => t.not(readStatus(dir).pid, before, 'restarted')],
        ['-R', ['-r'], (before) => t.ok(readStatus(dir).pid !== before && readStatus(dir).ready, 'restarted and ready')],
        ['-D', ['-d'], () => t.ok(readStatus(dir).pid === 0 && readStatus(dir).ready, 'down and finished')],
      ];
      for (const [flag, cmd, check] of cases) {
        const before = readStatus(dir).pid;
        const waiter = startTether(t, ['svwait', flag, ...T, dir]);
        const exit = exitOf(waiter);
        await waitSubscribed(dir);
        await mustRun(s6('s6-svc'), [...cmd, dir]);
        t.same(await exit, { code: 0, signal: null }, `svwait ${flag} after s6-svc ${cmd.join(' ')}`);
        check(before);
        t.same(clientListeners(dir).length, 0, 'unsubscribed');
      }
    });

    t.test('svwait -u counts a supervisor that exits: exit 1, as s6-svwait', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
      const sv = await supervise(t, sup, dir);
      const waiter = startTether(t, ['svwait', '-u', ...T, dir]);
      const exit = exitOf(waiter);
      await waitSubscribed(dir);
      const svExit = endOf(sv, dir);
      await mustRun(s6('s6-svc'), ['-x', dir]);
      await svExit;
      t.same(await exit, { code: 1, signal: null });
    });

    t.test('svlisten: PROG runs after the subscription, so its effect is seen', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), NOTIFIER, { 'notification-fd': '3\n', down: '' });
      await supervise(t, sup, dir);
      let r = await tether(['svlisten', '-U', ...T, dir, '--', s6('s6-svc'), '-u', dir]);
      t.equal(r.code, 0, `svlisten -U -- s6-svc -u: ${r.stderr}`);
      t.ok(readStatus(dir).ready);
      const before = readStatus(dir).pid;
      r = await tether(['svlisten', '-R', ...T, dir, '--', s6('s6-svc'), '-r', dir]);
      t.equal(r.code, 0, 'svlisten -R -- s6-svc -r');
      t.not(readStatus(dir).pid, before);
      r = await tether(['svlisten', '-D', ...T, '--', dir, '--', s6('s6-svc'), '-d', dir]);
      t.equal(r.code, 0, 'a "--" that ends the options is allowed too');
      r = await tether(['svlisten', '-u', '-t', '300', dir, '--', 'true']);
      t.equal(r.code, 99, 'PROG changed nothing: timeout');
      r = await tether(['svlisten', '-u', dir, '--', '/nonexistent/prog']);
      t.equal(r.code, 111);
      t.match(r.stderr, /unable to spawn \/nonexistent\/prog/);
      t.same(clientListeners(dir), [], 'no FIFO left behind');
    });

    t.test('a transition between subscribing and reading the status is not missed', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
      await supervise(t, sup, dir, { up: true });
      // Within the window, the service goes down and comes back up: the
      // status read afterwards says "up", only the FIFO remembers "down".
      const inWindow = () => {
        for (const args of [['-wD', '-T', '20000', '-d', dir], ['-wu', '-T', '20000', '-u', dir]]) {
          const r = spawnSync(s6('s6-svc'), args, { timeout: 25_000 });
          if (r.status !== 0) throw new Error(`s6-svc ${args.join(' ')}: ${r.status} ${r.stderr}`);
        }
      };
      await svwait(dir, 'down', { timeoutMs: 20_000, onSubscribed: inWindow });
      t.ok(readStatus(dir).pid > 0, 'the service is up again, yet the wait for "down" returned');
    });

    t.test('svc and svwait through the API', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
      await supervise(t, sup, dir);
      await svc(dir, ['up'], { wait: 'up', timeoutMs: 20_000 });
      t.ok(readStatus(dir).pid > 0, 'up');
      await svc(dir, 'down', { wait: 'finished', timeoutMs: 20_000 });
      t.equal(readStatus(dir).pid, 0, 'down');
      const err = await svwait([dir], 'up', { timeoutMs: 200 }).catch((e: unknown) => e);
      t.ok(err instanceof ClientError && err.exitCode === 99, 'timeout rejects with code 99');
      const nope = await svc(join(dir, 'nowhere'), 'up').catch((e: unknown) => e);
      t.ok(nope instanceof ClientError && nope.exitCode === 102, 'not supervised rejects with 102');
      const warnings: string[] = [];
      await svc(dir, { letters: 'u' }, { wait: 'ready', timeoutMs: 20_000, onWarning: (m) => warnings.push(m) });
      t.ok(readStatus(dir).pid > 0, 'a wait for readiness without notification-fd returns once up');
      t.same(warnings, [`${join(dir, 'notification-fd')} not present - ignoring request for readiness notification`], 'and says so, as s6-svc does');
    });

    t.test('watchService yields the state, then each change; close unsubscribes', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
      await supervise(t, sup, dir);
      const w = watchService(dir);
      const seen: ServiceChange[] = [];
      const collect = (async () => {
        for await (const c of w) {
          seen.push(c);
          if (c.event === 'finished') break;
        }
      })();
      await mustRun(s6('s6-svc'), ['-wu', '-T', '20000', '-u', dir]);
      await mustRun(s6('s6-svc'), ['-d', dir]);
      await bounded(collect, 20_000, 'the finished event');
      t.same(seen[0], { event: 'status', byte: '', up: false, ready: true });
      t.same(seen.map((c) => c.event).filter((e) => e !== 'start'), ['status', 'up', 'down', 'finished']);
      t.match(seen[seen.length - 1], { up: false, ready: true });
      t.same(clientListeners(dir), [], 'break unsubscribed');
      const w2 = watchService(dir);
      const first = await w2.next();
      t.match(first.value, { event: 'status', up: false });
      const pending = w2.next();
      w2.close();
      t.same(await pending, { value: undefined, done: true }, 'close ends a pending next()');
    });

    // A shared scanner starts a new supervisor after `x`: "gone" lasts a moment there.
    t.test('svok: 0 while supervised, 1 once the supervisor is gone, as s6-svok', { skip: processOnly(sup) }, async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
      const sv = await supervise(t, sup, dir);
      t.equal((await tether(['svok', dir])).code, 0);
      t.equal((await run(s6('s6-svok'), [dir])).code, 0);
      const gone = exitOf(sv);
      await mustRun(s6('s6-svc'), ['-x', dir]);
      await gone;
      t.equal((await tether(['svok', dir])).code, 1);
      t.equal((await run(s6('s6-svok'), [dir])).code, 1);
    });

    t.test('svdt prints what s6-svdt prints; svdt-clear empties the tally', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
      await supervise(t, sup, dir, { up: true });
      t.equal((await s6Restart(dir, '-k')).code, 0);
      t.equal((await s6Restart(dir, '-t')).code, 0);
      for (const args of [[], ['-s']]) {
        const ours = await tether(['svdt', ...args, dir]);
        const theirs = await run(s6('s6-svdt'), [...args, dir]);
        t.equal(ours.code, 0);
        t.equal(ours.stdout, theirs.stdout, `svdt ${args.join(' ')}`);
      }
      t.match((await tether(['svdt', dir])).stdout, /^@[0-9a-f]{24} signal SIGKILL\n@[0-9a-f]{24} signal SIGTERM\n$/);
      t.match((await tether(['svdt', '-s', dir])).stdout, /signal 9\n.*signal 15\n$/);
      const r = await tether(['svdt-clear', dir]);
      t.equal(r.code, 0);
      t.equal(statSync(join(dir, 'supervise', 'death_tally')).size, 0);
      t.equal((await run(s6('s6-svdt'), [dir])).stdout, '', 's6-svdt sees it empty');
      t.equal((await s6Restart(dir, '-k')).code, 0);
      t.match((await tether(['svdt', dir])).stdout, /^@[0-9a-f]{24} signal SIGKILL\n$/, 'the supervisor keeps appending');
    });
  });
}

t.test('svdt and svdt-clear on a directory that was never supervised: 111', async (t) => {
  const dir = tempDir(t);
  let r = await tether(['svdt', dir]);
  t.equal(r.code, 111);
  t.equal(r.stderr, `tether svdt: fatal: not supervised: ${dir} is not a service directory (no run file)\n`);
  r = await tether(['svdt-clear', dir]);
  t.equal(r.code, 111);
  t.equal((await tether(['svok', dir])).code, 1);
  t.equal((await tether(['svok'])).code, 100);
  t.equal((await tether(['svwait', '-z', dir])).code, 100);
  t.equal((await tether(['svwait'])).code, 100, 'no directory: a usage error, as s6-svwait (dieusage when no servicedir)');
});

t.test('svwait does not poll: ~0 CPU ticks while waiting 10 s', { skip: SUPERVISORS[0].missing ?? false }, async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  await supervise(t, SUPERVISORS[0], dir, { up: true });
  // Without tap's NODE_OPTIONS: its process-info import is not tether's to measure.
  const { NODE_OPTIONS: _, ...env } = process.env;
  const waiter = spawn(process.execPath, [TETHER, 'svwait', '-d', '-t', '60000', dir], { stdio: 'ignore', env });
  // A Node process that only waits on a timer, beside it in the same window:
  // what any idle Node costs on this machine at this moment (V8's own threads).
  const idleNode = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore', env });
  t.teardown(() => {
    for (const p of [waiter, idleNode]) if (p.exitCode === null) p.kill('SIGKILL');
  });
  const done = exitOf(waiter, 90_000);
  await waitSubscribed(dir);
  const ticks = (pid = waiter.pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  // The timers in this file: the idle window is a measurement, not a wait for
  // something. It opens 2 s after the subscription, past the rest of svwait's
  // start-up, and closes while svwait still waits, so its exit is not counted.
  const pause = (ms: number) => new Promise((res) => setTimeout(res, ms));
  await pause(2000);
  const atStart = ticks();
  const baseAtStart = ticks(idleNode.pid);
  await pause(10_000);
  const waiting = ticks() - atStart;
  const baseline = ticks(idleNode.pid) - baseAtStart;
  t.equal(waiter.exitCode, null, 'still waiting 12 s after subscribing');
  await svc(dir, 'down');
  t.equal((await done).code, 0, 'and woken by the event');
  t.ok(waiting < baseline + 10, `CPU ticks while waiting: ${waiting} (an idle node process meanwhile: ${baseline})`);
});
