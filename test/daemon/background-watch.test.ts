import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { childrenOf, procStat } from '../../src/os/proc';
import { BOUND_MS, type Teardown, alive, bounded, exitOf, startTether, tempDir, tether, writeScript, zombiesLeft } from '../lib/harness';
import { killPidAtTeardown, lines, waitForLine, writeDaemons } from './fixtures';

function setup(t: Teardown) {
  const dir = tempDir(t);
  return { dir, d: writeDaemons(dir), pidFile: join(dir, 'd.pid'), log: join(dir, 'log') };
}

t.test('s6 contract: the parent writes the pid; -d readiness; TERM reaches the daemon; its status is ours', async (t) => {
  const { d, pidFile, log } = setup(t);
  const bw = startTether(t, ['background-watch', '-d', '3', pidFile, d.parent, pidFile, log], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let ready = '';
  const readyDone = new Promise<void>((res) => {
    bw.stdio[3]!.on('data', (c) => (ready += c));
    bw.stdio[3]!.on('end', res);
  });
  await readyDone;
  t.equal(ready, '\n', 'a newline, then EOF, on the notification fd');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  killPidAtTeardown(t, pid);
  await waitForLine(log, /^started /);
  t.equal(Number(readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ')[1]), bw.pid, 'the daemon was re-parented to background-watch');
  await waitForLine(log, /^orphan$/);
  // A signal round trip: by the time HUP reaches the daemon, the orphan's SIGCHLD has been handled.
  process.kill(bw.pid!, 'SIGHUP');
  await waitForLine(log, /^HUP /);
  t.same(await zombiesLeft(bw.pid!), [], 'the orphan was reaped');
  process.kill(bw.pid!, 'SIGTERM');
  const exit = await exitOf(bw);
  t.same(exit, { code: 3, signal: null }, "exits with the daemon's code");
  t.ok(lines(log).includes(`TERM ${pid}`), 'the daemon received TERM');
  t.notOk(alive(pid), 'the daemon is gone');
});

t.test('double fork: the daemon writes its own pid file; death by signal gives 128+n', async (t) => {
  const { d, pidFile, log } = setup(t);
  const bw = startTether(t, ['background-watch', '-t', '20000', pidFile, d.doubleFork, pidFile, log]);
  await waitForLine(log, /^started /);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  killPidAtTeardown(t, pid);
  process.kill(bw.pid!, 'SIGUSR1');
  await waitForLine(log, /^USR1 /);
  for (const c of childrenOf(pid)) killPidAtTeardown(t, c);
  process.kill(pid, 'SIGKILL');
  t.same(await exitOf(bw), { code: 137, signal: null });
  t.same(await zombiesLeft(bw.pid!), []);
});

t.test('double fork: a pid file written while the middle process still runs is waited on, not refused', async (t) => {
  const { dir, d, pidFile, log } = setup(t);
  const gate = join(dir, 'gate');
  execFileSync('mkfifo', [gate]);
  // The middle process starts the daemon, then stays until the test opens the gate.
  const prog = join(dir, 'slow-middle.sh');
  writeScript(prog, `sh -c '"$0" "$1" "$2" self </dev/null >/dev/null 2>&1 & read _ < "$3"' "${d.daemon}" "$1" "$2" "${gate}" </dev/null >/dev/null 2>&1 &
exit 0`);
  const bw = startTether(t, ['background-watch', '-d', '3', '-t', '60000', pidFile, prog, pidFile, log], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let ready = false;
  const readiness = bounded(new Promise((res) => (bw.stdio[3] as Readable).once('end', res).resume()), BOUND_MS, 'readiness').then(() => (ready = true));
  await waitForLine(log, /^started /);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  killPidAtTeardown(t, pid);
  for (const c of childrenOf(pid)) killPidAtTeardown(t, c);
  t.ok(alive(bw.pid!), 'background-watch waits for the daemon to become its child');
  t.notOk(ready, 'and is not ready yet');
  closeSync(openSync(gate, 'w'));
  await readiness;
  t.equal(procStat(pid)?.ppid, bw.pid, 'the daemon, re-parented, is adopted');
  process.kill(pid, 'SIGKILL');
  t.same(await exitOf(bw), { code: 137, signal: null }, "the daemon's status");
});

t.test('a daemon that lands on us after a thousand other orphans is still reaped', async (t) => {
  // The kernel lists children at most one page per read (about 800 pids),
  // and re-parented orphans join the end of the list.
  const { dir, d, pidFile, log } = setup(t);
  const helpers = join(dir, 'helpers');
  const prog = join(dir, 'many.sh');
  writeScript(prog, `i=0
while [ $i -lt 1000 ]; do sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >> "${helpers}"; i=$((i+1)); done
"${d.daemon}" "$1" "$2" none </dev/null >/dev/null 2>&1 &
echo $! > "$1"`);
  t.teardown(() => {
    for (const pid of lines(helpers).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const bw = startTether(t, ['background-watch', '-d', '3', '-t', '60000', pidFile, prog, pidFile, log], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  await bounded(new Promise((res) => (bw.stdio[3] as Readable).once('end', res).resume()), BOUND_MS, 'readiness');
  await waitForLine(log, /^started /);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  killPidAtTeardown(t, pid);
  for (const c of childrenOf(pid)) killPidAtTeardown(t, c);
  t.ok(childrenOf(bw.pid!).length > 1000, 'the helpers and the daemon are all children of background-watch');
  process.kill(pid, 'SIGKILL');
  t.same(await exitOf(bw), { code: 137, signal: null }, "the daemon's death is seen");
});

t.test('a pid file written after the parent exited is waited for', async (t) => {
  const { d, pidFile, log } = setup(t);
  const bw = startTether(t, ['background-watch', '-t', '20000', pidFile, d.late, pidFile, log]);
  await waitForLine(log, /^started /);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  killPidAtTeardown(t, pid);
  process.kill(bw.pid!, 'SIGTERM');
  t.same(await exitOf(bw), { code: 3, signal: null });
  t.ok(lines(log).includes(`TERM ${pid}`));
});

t.test('pid file missing, garbage, or naming a process that is not our child: 104', async (t) => {
  const { dir, pidFile } = setup(t);
  let r = await tether(['background-watch', '-t', '200', pidFile, 'true']);
  t.equal(r.code, 104);
  t.match(r.stderr, /does not exist after 200 ms/);
  const garbage = join(dir, 'garbage.sh');
  writeScript(garbage, `printf 'twelve\\n' > "${pidFile}"`);
  r = await tether(['background-watch', '-t', '200', pidFile, garbage]);
  t.equal(r.code, 104);
  t.match(r.stderr, /does not hold a pid and a newline: "twelve\\n"/);
  // An unrelated live process: this test's own pid. s6 would adopt it (kill(pid, 0) succeeds).
  const foreign = join(dir, 'foreign.sh');
  writeScript(foreign, `echo ${process.pid} > "${pidFile}"`);
  r = await tether(['background-watch', pidFile, foreign]);
  t.equal(r.code, 104);
  t.match(r.stderr, new RegExp(`names pid ${process.pid}, which is not a child`));
});

t.test('a failing parent: its status, and the pid file is removed', async (t) => {
  const { dir, pidFile } = setup(t);
  writeFileSync(pidFile, '12345\n');
  const fail = join(dir, 'fail.sh');
  writeScript(fail, 'exit 5');
  const r = await tether(['background-watch', pidFile, fail]);
  t.equal(r.code, 5);
  t.notOk(existsSync(pidFile), 'pid file unlinked');
  const killed = join(dir, 'killed.sh');
  writeScript(killed, 'kill -USR2 $$');
  t.equal((await tether(['background-watch', pidFile, killed])).code, 128 + 12);
});

t.test('a parent that never exits is killed at -t: 137', async (t) => {
  const { dir, pidFile } = setup(t);
  const hang = join(dir, 'hang.sh');
  writeScript(hang, 'exec sleep 1000');
  const r = await tether(['background-watch', '-t', '300', pidFile, hang]);
  t.equal(r.code, 137);
  t.match(r.stderr, /did not exit within 300 ms: killing it/);
});

t.test('signals reach the parent while it runs', async (t) => {
  const { dir, pidFile, log } = setup(t);
  const slow = join(dir, 'slow.sh');
  writeScript(slow, `trap 'echo parent-TERM >> "${log}"; kill -KILL $s; exit 9' TERM\nsleep 1000 & s=$!\necho waiting >> "${log}"\nwait`);
  const bw = startTether(t, ['background-watch', pidFile, slow]);
  await waitForLine(log, /^waiting$/);
  process.kill(bw.pid!, 'SIGTERM');
  t.same(await exitOf(bw), { code: 9, signal: null });
  t.ok(lines(log).includes('parent-TERM'));
});

t.test('spawn failures and usage', async (t) => {
  const { dir, pidFile } = setup(t);
  t.equal((await tether(['background-watch', pidFile, join(dir, 'nope')])).code, 127);
  const notExec = join(dir, 'plain');
  writeFileSync(notExec, 'echo hi\n');
  t.equal((await tether(['background-watch', pidFile, notExec])).code, 126);
  for (const args of [[], [pidFile], ['-t', 'x', pidFile, 'true'], ['-d', '1', pidFile, 'true'], ['-d', '99', pidFile, 'true'], ['--bogus', pidFile, 'true']]) {
    const r = await tether(['background-watch', ...args]);
    t.equal(r.code, 100, `usage: ${args.join(' ')}`);
    t.match(r.stderr, /^tether background-watch: fatal: /);
  }
  const h = await tether(['background-watch', '--help']);
  t.equal(h.code, 0);
  t.match(h.stdout, /^usage: tether background-watch/);
});
