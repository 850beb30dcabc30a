// tether svc against each supervisor: commands, every -w wait, exit codes.
import t, { type Test } from 'tap';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readStatus } from '../../src/wire/status';
import { BOUND_MS, HAVE_S6, bounded, exitOf, makeService, run, startProcess, startTether, tempDir, tether, type Exit } from '../lib/harness';
import { FifodirListener } from '../../src/wire/fifodir';
import { endOf, processOnly, waitForContent } from '../supervise/lib';
import { NOTIFIER, SLEEPER, SUPERVISORS, mustRun, s6, supervise, type Supervisor } from './lib';

const BOUND = ['-T', '20000'];

for (const sup of SUPERVISORS) {
  t.test(sup.name, { skip: sup.missing ?? false }, async (t) => {
    t.test('-wd -d, -wu -u, -wD -d, -wr -r: the service follows, svstat agrees', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
      await supervise(t, sup, dir, { up: true });
      const first = readStatus(dir).pid;

      let r = await tether(['svc', '-wd', ...BOUND, '-d', dir]);
      t.equal(r.code, 0, `-wd -d: ${r.stderr}`);
      t.match((await run(s6('s6-svstat'), [dir])).stdout, /^down \(signal SIGTERM\)/);

      r = await tether(['svc', '-wu', ...BOUND, '-u', dir]);
      t.equal(r.code, 0, `-wu -u: ${r.stderr}`);
      const second = readStatus(dir).pid;
      t.ok(second > 0 && second !== first, 'a new run process');

      r = await tether(['svc', '-wD', ...BOUND, '-d', dir]);
      t.equal(r.code, 0, `-wD -d: ${r.stderr}`);
      const st = readStatus(dir);
      t.ok(st.pid === 0 && st.ready, 'down and finished');

      r = await tether(['svc', '-wu', ...BOUND, '-u', dir]);
      t.equal(r.code, 0);
      const before = readStatus(dir).pid;
      r = await tether(['svc', '-wr', ...BOUND, '-r', dir]);
      t.equal(r.code, 0, `-wr -r: ${r.stderr}`);
      const after = readStatus(dir).pid;
      t.ok(after > 0 && after !== before, '-wr returned after the restart');
      t.match((await run(s6('s6-svdt'), [dir])).stdout, /signal SIGTERM\n$/, 'the restart was a death by SIGTERM');
    });

    t.test('-wr -r when the down and the new up reach the client in one read', async (t) => {
      const r = await restartInOneBatch(t, sup, (dir) => startTether(t, ['svc', '-wr', ...BOUND, '-r', dir], { detached: true }));
      t.equal(r.code, 0, 'tether svc -wr returns 0: it reads every byte of the batch');
    });

    t.test("the same batch makes Debian's s6-svc -wr miss the up and time out (the README's caveat)", { skip: !HAVE_S6 && 'no s6' }, async (t) => {
      const r = await restartInOneBatch(t, sup, (dir) => startProcess(t, s6('s6-svc'), ['-wr', '-T', '3000', '-r', dir], { detached: true }));
      t.equal(r.code, 99, 's6-svc -wr stops reading the batch at the D and waits for a u that has passed');
    });

    t.test('-wU and -wR wait for readiness', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), NOTIFIER, { 'notification-fd': '3\n', down: '' });
      await supervise(t, sup, dir);
      let r = await tether(['svc', '-wU', ...BOUND, '-u', dir]);
      t.equal(r.code, 0, `-wU -u: ${r.stderr}`);
      t.equal((await run(s6('s6-svstat'), ['-o', 'up,ready', dir])).stdout, 'true true\n');
      const before = readStatus(dir).pid;
      r = await tether(['svc', '-wR', ...BOUND, '-r', dir]);
      t.equal(r.code, 0, `-wR -r: ${r.stderr}`);
      const st = readStatus(dir);
      t.ok(st.pid !== before && st.ready, 'restarted and ready');
      t.equal(r.stderr, '', 'no warning: notification-fd exists');
    });

    t.test('-wU without notification-fd falls back to -wu with a warning', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
      await supervise(t, sup, dir);
      const r = await tether(['svc', '-wU', ...BOUND, '-u', dir]);
      t.equal(r.code, 0);
      t.match(r.stderr, /^tether svc: warning: .*notification-fd not present - ignoring request for readiness notification\n$/);
      t.equal((await run(s6('s6-svstat'), ['-u', dir])).stdout, 'true\n');
    });

    t.test('-w with no command only waits; -T bounds it: 99', async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
      await supervise(t, sup, dir, { up: true });
      let r = await tether(['svc', '-wu', dir]);
      t.equal(r.code, 0, 'already up');
      r = await tether(['svc', '-wd', '-T', '300', dir]);
      t.equal(r.code, 99, 'timeout');
      t.match(r.stderr, /timed out/);
      t.equal((await run(s6('s6-svstat'), ['-u', dir])).stdout, 'true\n', 'nothing was sent');
    });

    t.test('a permanent failure while waiting for up counts: exit 1', async (t) => {
      // run exits at once and finish exits 125: s6 sends u, d, then OD.
      const dir = makeService(join(tempDir(t), 'svc'), 'exit 3', { finish: 'exit 125', 'notification-fd': '3\n', down: '' });
      await supervise(t, sup, dir);
      const r = await tether(['svc', '-wU', ...BOUND, '-u', dir]);
      t.equal(r.code, 1, `exit code counts the failure: ${r.stderr}`);
      t.equal((await run(s6('s6-svstat'), ['-o', 'up,wantedup', dir])).stdout, 'false false\n');
    });

    t.test('several directories; the last failing one sets the exit code', async (t) => {
      const base = tempDir(t);
      const a = makeService(join(base, 'a'), SLEEPER, { down: '' });
      const b = makeService(join(base, 'b'), SLEEPER, { down: '' });
      await supervise(t, sup, a);
      await supervise(t, sup, b);
      let r = await tether(['svc', '-wu', ...BOUND, '-u', a, b]);
      t.equal(r.code, 0, r.stderr);
      t.ok(readStatus(a).pid > 0 && readStatus(b).pid > 0, 'both up');

      const never = join(base, 'never');
      mkdirSync(never);
      const broken = join(base, 'broken');
      mkdirSync(join(broken, 'supervise'), { recursive: true });
      r = await tether(['svc', '-d', a, never, broken]);
      t.equal(r.code, 1, 'supervise/ without control: 1');
      t.match(r.stderr, /not supervised/);
      r = await tether(['svc', '-d', broken, never, b]);
      t.equal(r.code, 102, 'never supervised: 102');
      await mustRun(s6('s6-svwait'), ['-d', '-t', '20000', a, b]);
      t.pass('the controllable directories got the command');
    });

    // A shared scanner starts a new supervisor after `x`: "gone" lasts a moment there.
    t.test('a supervisor that is gone: 102, whatever is left on disk', { skip: processOnly(sup) }, async (t) => {
      const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
      const child = await supervise(t, sup, dir);
      const exited = endOf(child, dir);
      await mustRun(s6('s6-svc'), ['-x', dir]);
      await exited;
      const r = await tether(['svc', '-u', dir]);
      t.equal(r.code, 102);
      t.match(r.stderr, /not supervised: no supervisor is running on /);
    });

    t.test('-s SIG names a signal; -x makes the supervisor exit', async (t) => {
      const base = tempDir(t);
      const log = join(base, 'log');
      // "sleep & wait": a trapped signal interrupts wait at once.
      const dir = makeService(join(base, 'svc'), `trap 'echo got-usr1 >> ${log}' USR1\necho ready >> ${log}\nwhile :; do sleep 1 & wait $!; done`);
      const child = await supervise(t, sup, dir, { up: true });
      const exited = endOf(child, dir);
      await waitForText(log, 'ready');
      const r = await tether(['svc', '-s', 'usr1', dir]);
      t.equal(r.code, 0);
      await waitForText(log, 'got-usr1');
      t.pass('SIGUSR1 reached the service');
      const x = await tether(['svc', '-wD', ...BOUND, '-dx', dir]);
      t.equal(x.code, 0, x.stderr);
      t.same(await exited, { code: 0, signal: null }, 'the supervisor exited');
    });
  });
}

/** Resolves once `file` contains `text`, watching its directory. */
function waitForText(file: string, text: string): Promise<void> {
  const has = () => existsSync(file) && readFileSync(file, 'latin1').includes(text);
  return bounded(new Promise<void>((resolve) => {
    const w = watch(dirname(file), () => {
      if (has()) {
        w.close();
        resolve();
      }
    });
    if (has()) {
      w.close();
      resolve();
    }
  }), 20_000, `${text} in ${file}`);
}

t.test('usage errors exit 100 with one line on stderr; --help prints the synopsis', async (t) => {
  for (const args of [[], ['-s', 'BOGUS', '/x'], ['-s', 'SEGV', '/x'], ['-wz', '/x'], ['-T', 'x1', '-wu', '/x'], ['-Z', '/x'], ['']]) {
    const r = await tether(['svc', ...args]);
    t.equal(r.code, 100, `svc ${args.join(' ')}`);
    t.equal(r.stderr.split('\n').length, 2, 'one line');
    t.equal(r.stdout, '');
  }
  const h = await tether(['svc', '--help']);
  t.equal(h.code, 0);
  t.match(h.stdout, /^usage: tether svc /);
  const many = await tether(['svc', `-${'u'.repeat(63)}`, '/x']);
  t.equal(many.code, 100);
  t.match(many.stderr, /too many commands/);
});

t.test('a directory that never had a supervisor: 102, and no event/ is created', async (t) => {
  const dir = join(tempDir(t), 'plain');
  mkdirSync(dir);
  writeFileSync(join(dir, 'run'), '');
  const r = await tether(['svc', '-wu', '-T', '1000', '-u', dir]);
  t.equal(r.code, 102);
  t.notOk(existsSync(join(dir, 'event')));
});

/**
 * Has `client` (an svc -wr -r, started in a process group of its own) restart
 * a service while the client is stopped, so that the down and the new
 * instance's up wait in its FIFO and reach it in one read. The whole group is
 * stopped: s6's clients read the FIFO through a helper process, s6-ftrigrd.
 * Returns the client's exit.
 */
async function restartInOneBatch(t: Test, sup: Supervisor, client: (dir: string) => ChildProcess): Promise<Exit> {
  const root = tempDir(t);
  const marks = join(root, 'marks');
  const release = join(root, 'release');
  await mustRun('mkfifo', [release]);
  const dir = makeService(join(root, 'svc'), [
    // Only the first instance holds its death back, until the test releases it.
    `[ -e ${marks} ] && exec sleep 1000`,
    `trap 'echo term >> ${marks}; read line < ${release}; kill -KILL $!; exit 0' TERM`,
    'sleep 1000 &',
    'wait',
  ].join('\n'));
  await supervise(t, sup, dir, { up: true });
  const before = readStatus(dir).pid;
  const proc = client(dir);
  t.teardown(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL'); // the group: a helper left stopped if the test failed half-way
    } catch {
      // all gone
    }
  });
  await waitForContent(marks, /term/); // the client subscribed, then sent r
  process.kill(-proc.pid!, 'SIGSTOP');
  const seen: string[] = [];
  const watcher = FifodirListener.subscribe(join(dir, 'event'));
  t.teardown(() => watcher.close());
  const upAgain = bounded(new Promise<void>((res) => watcher.onEvents((e) => {
    seen.push(e);
    if (seen.join('').includes('u')) res();
  })), BOUND_MS, 'the u of the new instance');
  writeFileSync(release, 'go\n');
  await upAgain;
  t.match(seen.join(''), /^dD+u/, 'waiting for the stopped client: the down, then the up');
  t.not(readStatus(dir).pid, before, 'the service was restarted');
  process.kill(-proc.pid!, 'SIGCONT');
  return exitOf(proc);
}
