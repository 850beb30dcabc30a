import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf, procStat } from '../../src/os/proc';
import { type Teardown, alive, exitOf, startTether, tempDir, tether, writeScript, zombiesLeft } from '../lib/harness';
import { killPidAtTeardown, lines, waitForLine, writeDaemons } from './fixtures';
import { waitExit } from '../scan/lib';

function setup(t: Teardown) {
  const dir = tempDir(t);
  return { dir, d: writeDaemons(dir), pidFile: join(dir, 'd.pid'), log: join(dir, 'log') };
}

const readPid = (f: string) => Number(readFileSync(f, 'utf8'));

t.test('a foreground launcher: signals go to the daemon, not to PROG; PROG keeps pidproxy up', async (t) => {
  const { dir, d, pidFile, log } = setup(t);
  // mysqld_safe's shape: PROG stays in the foreground, its child is the daemon.
  const launcher = join(dir, 'launcher.sh');
  writeScript(launcher, `trap 'echo prog-TERM >> "${log}"' TERM
"${d.daemon}" "$1" "$2" self 6 </dev/null >/dev/null 2>&1 & dp=$!
while kill -0 $dp 2>/dev/null; do wait $dp; rc=$?; done
exit $rc`);
  const pp = startTether(t, ['pidproxy', pidFile, launcher, pidFile, log]);
  await waitForLine(log, /^started /);
  const pid = readPid(pidFile);
  killPidAtTeardown(t, pid);
  process.kill(pp.pid!, 'SIGTERM');
  t.same(await exitOf(pp), { code: 6, signal: null }, "the daemon's status, passed on by PROG");
  t.ok(lines(log).includes(`TERM ${pid}`), 'the daemon got TERM');
  t.notOk(lines(log).includes('prog-TERM'), 'PROG did not');
});

t.test('a daemonizing PROG: pidproxy adopts the daemon, re-reads the pid file at each signal, exits with the last daemon', async (t) => {
  const { d, pidFile, log } = setup(t);
  const pp = startTether(t, ['pidproxy', pidFile, d.doubleFork, pidFile, log]);
  await waitForLine(log, /^started /);
  const first = readPid(pidFile);
  killPidAtTeardown(t, first);
  process.kill(pp.pid!, 'SIGHUP');
  await waitForLine(log, new RegExp(`^HUP ${first}$`));
  // The upgrade: the first daemon starts a second, which re-writes the pid file.
  process.kill(pp.pid!, 'SIGUSR2');
  const second = Number((await waitForLine(log, new RegExp(`^started (?!${first}$)`))).split(' ')[1]);
  killPidAtTeardown(t, second);
  t.equal(readPid(pidFile), second);
  // (A daemon started with & by sh ignores QUIT and INT: POSIX sh does that, so use USR1.)
  process.kill(pp.pid!, 'SIGUSR1');
  await waitForLine(log, new RegExp(`^USR1 ${second}$`));
  t.notOk(lines(log).includes(`USR1 ${first}`), 'USR1 went to the pid the file names now');
  // The old daemon goes; pidproxy stays for the new one, now re-parented to it.
  for (const c of childrenOf(first)) if (c !== second) killPidAtTeardown(t, c);
  process.kill(first, 'SIGTERM');
  await waitForLine(log, new RegExp(`^TERM ${first}$`));
  process.kill(pp.pid!, 'SIGHUP');
  await waitForLine(log, new RegExp(`^HUP ${second}$`));
  t.ok(alive(pp.pid!), 'pidproxy still runs');
  t.same(await zombiesLeft(pp.pid!), [], 'no zombie: the old daemon and the orphans were reaped');
  process.kill(pp.pid!, 'SIGTERM');
  t.same(await exitOf(pp), { code: 4, signal: null }, "the second daemon's status");
  t.notOk(alive(second));
});

t.test('a daemon killed by a signal: 128+n', async (t) => {
  const { d, pidFile, log } = setup(t);
  const pp = startTether(t, ['pidproxy', pidFile, d.parent, pidFile, log]);
  await waitForLine(log, /^started /);
  const pid = readPid(pidFile);
  killPidAtTeardown(t, pid);
  for (const c of childrenOf(pid)) killPidAtTeardown(t, c);
  // Killed before PROG exits, the daemon would be PROG's to reap, and its status lost to us.
  const parent = procStat(pid)?.ppid;
  if (parent !== undefined && parent !== pp.pid) await waitExit(t, parent);
  process.kill(pid, 'SIGKILL');
  t.same(await exitOf(pp), { code: 137, signal: null });
});

t.test('a daemon killed while orphans keep landing on pidproxy: still 128+n, never PROG\'s 0', async (t) => {
  // Every reaped orphan makes pidproxy look at the daemon again; a death that
  // fell between its reap and its look once passed for a daemon reaped
  // elsewhere, and pidproxy exited 0 (PROG's status). These ten rounds
  // failed in each of three runs of that code, and pass now.
  const dir = tempDir(t);
  const churner = join(dir, 'churner.sh');
  writeScript(churner, `d=$$
while kill -0 $d 2>/dev/null; do ( true & ); done &
echo started $$ >> "$2"
wait`);
  const launcher = join(dir, 'launcher.sh');
  writeScript(launcher, `"${churner}" "$1" "$2" </dev/null >/dev/null 2>&1 &
echo $! > "$1"
echo $$ > "$1.launcher"`);
  for (let round = 0; round < 10; round++) {
    const pidFile = join(dir, `${round}.pid`);
    const log = join(dir, `${round}.log`);
    const pp = startTether(t, ['pidproxy', pidFile, launcher, pidFile, log]);
    const pid = Number((await waitForLine(log, /^started /)).split(' ')[1]);
    killPidAtTeardown(t, pid);
    for (const c of childrenOf(pid)) killPidAtTeardown(t, c);
    // Killed before PROG exits, the daemon would be PROG's to reap, and its status lost to us.
    await waitExit(t, Number((await waitForLine(`${pidFile}.launcher`, /^\d+$/))));
    process.kill(pid, 'SIGKILL');
    t.same(await exitOf(pp), { code: 137, signal: null }, `round ${round}`);
  }
});

t.test('a late pid file is waited for; a missing one is 104; a failing PROG passes its status', async (t) => {
  const { dir, d, pidFile, log } = setup(t);
  const pp = startTether(t, ['pidproxy', pidFile, d.late, pidFile, log]);
  await waitForLine(log, /^started /);
  const pid = readPid(pidFile);
  killPidAtTeardown(t, pid);
  process.kill(pp.pid!, 'SIGTERM');
  t.same(await exitOf(pp), { code: 3, signal: null });

  let r = await tether(['pidproxy', '-t', '200', join(dir, 'none.pid'), 'true']);
  t.equal(r.code, 104);
  t.match(r.stderr, /pid file .* does not exist/);
  const fail = join(dir, 'fail.sh');
  writeScript(fail, 'exit 5');
  r = await tether(['pidproxy', pidFile, fail]);
  t.equal(r.code, 5);
});

t.test('a pid file naming a process that is not ours is never signalled', async (t) => {
  const { dir, pidFile, log } = setup(t);
  const prog = join(dir, 'prog.sh');
  // PROG names the test process in the pid file and waits in the foreground.
  writeScript(prog, `echo ${process.pid} > "$1"
trap 'echo prog-TERM >> "${log}"; kill -KILL $s; exit 8' TERM
sleep 1000 & s=$!
echo waiting >> "${log}"
wait`);
  const pp = startTether(t, ['pidproxy', pidFile, prog, pidFile]);
  await waitForLine(log, /^waiting$/);
  let gotTerm = false;
  const onTerm = () => (gotTerm = true);
  process.on('SIGTERM', onTerm);
  t.teardown(() => process.off('SIGTERM', onTerm));
  process.kill(pp.pid!, 'SIGTERM');
  t.same(await exitOf(pp), { code: 8, signal: null }, 'TERM went to PROG instead');
  t.notOk(gotTerm, 'the stranger named in the pid file got nothing');
});

t.test('spawn failure and usage', async (t) => {
  const { dir, pidFile } = setup(t);
  t.equal((await tether(['pidproxy', pidFile, join(dir, 'nope')])).code, 127);
  for (const args of [[], [pidFile], ['-t', 'z', pidFile, 'true'], ['-x', pidFile, 'true']]) {
    const r = await tether(['pidproxy', ...args]);
    t.equal(r.code, 100, `usage: ${args.join(' ')}`);
    t.match(r.stderr, /^tether pidproxy: fatal: /);
  }
  const h = await tether(['pidproxy', '-h']);
  t.equal(h.code, 0);
  t.match(h.stdout, /^usage: tether pidproxy/);
});
