// Debian's s6 clients drive tether supervise, and the very same cases drive
// Debian's s6-supervise, which proves the tests. Where s6 2.11 differs from
// tether on purpose (tether follows the newest s6), the case says so.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkfifo } from '../../src/os/native';
import { procStat } from '../../src/os/proc';
import { readDeathTally } from '../../src/wire/deathtally';
import { readStatus } from '../../src/wire/status';
import { alive, bounded, exitOf, makeService, run, tempDir, writeScript, s6Restart } from '../lib/harness';
import { writeControl } from '../../src/wire/control';
import { SUPERVISORS, TETHER_SUPERVISE, dirArg, processOnly, s6, startSupervisor, statusPid, svc, svstat, waitForContent, waitForProc, waitForStatus, type SupervisorKind } from './lib';

const T = ['-T', '30000'];

/**
 * A run script in Python that appends the name of every signal it gets to
 * `sigs` in the service directory, exits 0 on the signals listed in the
 * file `exit-on` (default TERM), and ignores those in `ignore`.
 */
const RECORDER = `#!/usr/bin/env python3
import os, signal, sys
def names(f, d):
    try:
        return open(f).read().split()
    except FileNotFoundError:
        return d
exit_on = names('exit-on', ['TERM'])
ignore = names('ignore', [])
def on(n, _):
    name = signal.Signals(n).name[3:]
    with open('sigs', 'a') as fh:
        fh.write(name + '\\n')
    if name in exit_on:
        sys.exit(0)
for s in ['HUP', 'INT', 'QUIT', 'USR1', 'USR2', 'ALRM', 'WINCH', 'TERM', 'CONT']:
    signal.signal(getattr(signal, 'SIG' + s), signal.SIG_IGN if s in ignore else on)
with open('ran', 'a') as fh:
    fh.write(str(os.getpid()) + ' ' + ' '.join(sys.argv) + '\\n')
while True:
    signal.pause()
`;

const SLEEPER = 'exec sleep 100000';

function each(name: string, fn: (t: Test, kind: SupervisorKind) => Promise<void>, opts: { processOnly?: boolean } = {}): void {
  for (const kind of SUPERVISORS) {
    t.test(`${name} [${kind.name}]`, { skip: opts.processOnly ? processOnly(kind) : false }, (tt) => fn(tt, kind));
  }
}

each('s6-svok, s6-svstat and s6-svc -wd/-wu/-dx', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  t.equal((await s6('s6-svok', dir)).code, 1, 'svok: not supervised yet');
  const sup = await startSupervisor(t, kind, dir);
  t.equal((await s6('s6-svok', dir)).code, 0, 'svok: supervised');
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  const pid = statusPid(dir);
  t.ok(alive(pid), 'status pid is a live process');
  t.equal(procStat(pid)?.sid, pid, 'run leads its own session');
  const st = await svstat(dir);
  const m = /^up \(pid (\d+)\) (\d+) seconds\n$/.exec(st.stdout);
  t.ok(m, `svstat up: ${st.stdout}`);
  t.equal(Number(m?.[1]), pid);
  t.ok(Number(m?.[2]) < 10, 'seconds are small: the TAI offset is right');
  const o = await svstat(dir, '-o', 'up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum');
  t.equal(o.stdout, `true true true false false ${pid} -1 NA -1\n`);

  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0, 'svc -wD');
  t.notOk(alive(pid), 'run is gone');
  t.match((await svstat(dir)).stdout, /^down \(signal SIGTERM\) \d+ seconds, normally up, ready \d+ seconds\n$/);
  t.equal((await svstat(dir, '-o', 'up,wantedup,pid,exitcode,signal,signum')).stdout, 'false false -1 -1 SIGTERM 15\n');

  writeFileSync(join(dir, 'down'), '');
  t.match((await svstat(dir)).stdout, /, ready \d+ seconds\n$/, 'normally down shows nothing extra when down');
  t.equal((await svc(dir, '-wu', ...T, '-u')).code, 0, 'svc -wu');
  const pid2 = statusPid(dir);
  t.not(pid2, pid, 'a new instance');
  t.match((await svstat(dir)).stdout, new RegExp(`^up \\(pid ${pid2}\\) \\d+ seconds, normally down\\n$`));

  t.equal((await svc(dir, '-wd', ...T, '-dx')).code, 0, 'svc -dx');
  t.same(await sup.ended(), { code: 0, signal: null }, 'the supervisor exits 0 after x');
  t.equal((await s6('s6-svok', dir)).code, 1, 'svok: no longer supervised');
  t.equal(readStatus(dir).pid, 0, 'the last status stays behind');
});

each('signals reach the service: -h -1 -2 -a -i -q -y -t, -p/-c pause', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), RECORDER);
  const sigs = join(dir, 'sigs');
  await startSupervisor(t, kind, dir);
  await waitForContent(join(dir, 'ran'), /\n/);
  const pid = statusPid(dir);
  const expected: string[] = [];
  for (const [opt, name] of [['-h', 'HUP'], ['-1', 'USR1'], ['-2', 'USR2'], ['-a', 'ALRM'], ['-i', 'INT'], ['-q', 'QUIT'], ['-y', 'WINCH']]) {
    t.equal((await svc(dir, opt)).code, 0, `svc ${opt}`);
    expected.push(name);
    await waitForContent(sigs, new RegExp(`${expected.join('\\n')}\\n$`));
  }
  t.equal(readFileSync(sigs, 'utf8'), `${expected.join('\n')}\n`, 'each signal arrived once, in order');

  await svc(dir, '-p');
  await waitForStatus(dir, (s) => s.paused, 'paused');
  t.equal((await svstat(dir, '-o', 'paused')).stdout, 'true\n', 'svstat shows paused');
  t.equal(procStat(pid)?.state, 'T', 'run is stopped');
  await svc(dir, '-c');
  await waitForContent(sigs, /CONT\n$/);
  await waitForStatus(dir, (s) => !s.paused, 'not paused');
  t.equal((await svstat(dir, '-o', 'paused')).stdout, 'false\n');

  t.equal((await s6Restart(dir, '-t')).code, 0, 'svc -wd -t, then s6-svwait -u: TERM ends run, which is restarted');
  await waitForContent(sigs, /TERM\n$/);
  await waitForContent(join(dir, 'ran'), /\n.+\n$/);
  t.not(statusPid(dir), pid, 'a new instance runs');
  t.match(readFileSync(join(dir, 'ran'), 'utf8'), new RegExp(`^\\d+ \\./run ${dirArg(kind, dir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`),
    kind.name === 'tether' ? 'argv is ./run DIR' : 'argv[1] is DIR (2.11 passes argv[0] run, python shows the path)');
});

each('down-signal, timeout-kill, -k and the death tally (s6-svdt)', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), RECORDER, { 'down-signal': 'HUP\n', ignore: 'TERM\n', 'exit-on': 'nothing\n' });
  await startSupervisor(t, kind, dir);
  await waitForContent(join(dir, 'ran'), /\n/);
  writeFileSync(join(dir, 'timeout-kill'), '200\n');
  t.equal((await svc(dir, '-wd', ...T, '-d')).code, 0, 'svc -wd returns once the kill timeout fired');
  await waitForContent(join(dir, 'sigs'), /HUP\n/);
  t.equal((await svstat(dir, '-o', 'signal')).stdout, 'SIGKILL\n', 'down-signal ignored, so SIGKILL after timeout-kill');

  await svc(dir, '-wu', ...T, '-u');
  t.equal((await s6Restart(dir, '-k')).code, 0, 'svc -k kills, the service restarts');
  const dt = await s6('s6-svdt', dir);
  t.match(dt.stdout, /^@[0-9a-f]{24} signal SIGKILL\n@[0-9a-f]{24} signal SIGKILL\n$/, 's6-svdt reads both deaths');
  t.equal(readDeathTally(dir).length, 2);
  writeFileSync(join(dir, 'max-death-tally'), '1\n');
  await s6Restart(dir, '-k');
  t.match((await s6('s6-svdt', '-s', dir)).stdout, /^@[0-9a-f]{24} signal 9\n$/, 'max-death-tally keeps one');
});

each('readiness through notification-fd: s6-svwait -U, svc -wR', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), 'read x < gate\necho >&3\nexec sleep 100000', { 'notification-fd': '3\n' });
  const gate = join(dir, 'gate');
  mkfifo(gate, 0o600);
  await startSupervisor(t, kind, dir);
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  t.equal((await svstat(dir, '-o', 'up,ready')).stdout, 'true false\n', 'up, not ready yet');
  const waiter = spawn('/usr/bin/s6-svwait', ['-U', '-t', '30000', dir], { stdio: 'ignore' });
  const waited = exitOf(waiter);
  await run('sh', ['-c', 'echo go > "$1"', 'sh', gate]);
  t.same(await waited, { code: 0, signal: null }, 's6-svwait -U returns after readiness');
  t.match((await svstat(dir)).stdout, /^up \(pid \d+\) \d+ seconds, ready \d+ seconds\n$/);

  const pid = statusPid(dir);
  const restarter = spawn('/usr/bin/s6-svc', ['-wR', ...T, '-k', dir], { stdio: 'ignore' });
  const restarted = exitOf(restarter);
  await run('sh', ['-c', 'echo go > "$1"', 'sh', gate]);
  t.same(await restarted, { code: 0, signal: null }, 'svc -wR -k: restarted and ready');
  t.not(statusPid(dir), pid);
  t.equal((await svstat(dir, '-o', 'ready')).stdout, 'true\n');
});

each('finish: its arguments, timeout-finish, and exit 125 (permanent failure)', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { finish: 'echo "$@" >> finish.args' });
  await startSupervisor(t, kind, dir);
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  const pid = statusPid(dir);
  await s6Restart(dir, '-k');
  const args = await waitForContent(join(dir, 'finish.args'), /\n/);
  // s6 2.11 passes EXIT SIG DIR; tether, like the newest s6, adds the dead run's pid.
  t.equal(args, kind.name === 's6' ? `256 9 ${dir}\n` : `256 9 ${dirArg(kind, dir)} ${pid}\n`);

  writeScript(join(dir, 'finish'), 'exec sleep 100000');
  writeFileSync(join(dir, 'timeout-finish'), '100\n');
  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0, 'a finish that hangs is killed after timeout-finish');
  t.equal((await svstat(dir, '-o', 'up,pid')).stdout, 'false -1\n');

  writeScript(join(dir, 'run'), 'exit 3');
  writeScript(join(dir, 'finish'), 'echo "$@" >> finish.args; exit 125');
  await svc(dir, '-u');
  await waitForContent(join(dir, 'finish.args'), /\n3 0 /);
  await s6('s6-svwait', '-D', '-t', '30000', dir);
  t.equal((await svstat(dir, '-o', 'up,wantedup,exitcode')).stdout, 'false false 3\n', 'finish 125 cleared want-up');
});

each('svc -o runs once; -x while up waits for the service to go down', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { down: '' });
  const sup = await startSupervisor(t, kind, dir);
  // 2.11 writes paused=0 first; tether, like the newest s6, marks "not started yet" with paused=1.
  t.equal((await svstat(dir, '-o', 'up,wantedup,normallyup,paused')).stdout, `false false false ${kind.name === 'tether'}\n`);
  t.equal((await svc(dir, '-wu', ...T, '-o')).code, 0, 'svc -o starts it');
  t.equal((await svstat(dir, '-o', 'up,wantedup,paused')).stdout, 'true false false\n');
  await svc(dir, '-wD', ...T, '-k');
  t.equal((await svstat(dir, '-o', 'up,wantedup')).stdout, 'false false\n', 'not restarted');

  await svc(dir, '-wu', ...T, '-u');
  t.equal((await svc(dir, '-x')).code, 0);
  t.equal((await s6('s6-svok', dir)).code, 0, 'x alone does not stop the service or the supervisor');
  t.ok(alive(statusPid(dir)));
  t.equal((await svc(dir, '-d')).code, 0);
  t.same(await sup.ended(), { code: 0, signal: null }, 'exits once the service is down');
  t.notOk(existsSync(join(dir, 'supervise', 'status.new')));
});

each('the supervisor signals: SIGTERM, SIGHUP, SIGQUIT', async (t, kind) => {
  const root = tempDir(t);
  const a = makeService(join(root, 'a'), SLEEPER);
  const supA = await startSupervisor(t, kind, a);
  await s6('s6-svwait', '-u', '-t', '30000', a);
  const pidA = statusPid(a);
  process.kill(supA.child.pid!, 'SIGTERM');
  t.same(await exitOf(supA.child), { code: 0, signal: null }, 'SIGTERM: down, then exit 0');
  t.notOk(alive(pidA), 'the service was brought down');

  const b = makeService(join(root, 'b'), SLEEPER);
  const supB = await startSupervisor(t, kind, b);
  await s6('s6-svwait', '-u', '-t', '30000', b);
  const pidB = statusPid(b);
  process.kill(supB.child.pid!, 'SIGHUP');
  t.equal((await s6('s6-svok', b)).code, 0, 'SIGHUP: still supervising while the service runs');
  await svc(b, '-k');
  t.same(await exitOf(supB.child), { code: 0, signal: null }, 'SIGHUP: exits once the service died');
  t.notOk(alive(pidB));

  const c = makeService(join(root, 'c'), SLEEPER);
  const supC = await startSupervisor(t, kind, c);
  await s6('s6-svwait', '-u', '-t', '30000', c);
  const pidC = statusPid(c);
  process.kill(supC.child.pid!, 'SIGQUIT');
  t.same(await exitOf(supC.child), { code: 0, signal: null }, 'SIGQUIT: exits at once');
  t.ok(alive(pidC), 'leaving the service running');
  process.kill(-pidC, 'SIGKILL');
}, { processOnly: true });

each('a second supervisor on the same directory exits 100', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  await startSupervisor(t, kind, dir);
  for (const other of SUPERVISORS) {
    const r = await run(other.cmd, [...other.args, dir]);
    t.equal(r.code, 100, `${other.name} refuses: ${r.stderr.trim()}`);
  }
});

each('lock-fd: the service holds supervise/service-lock', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), 'ls -l /proc/$$/fd/4 > fd4; exec sleep 100000', { 'lock-fd': '4\n' });
  // 2.11 needs service-lock to exist beforehand (it opens it without O_CREAT); tether creates it.
  if (kind.name === 's6') {
    await run('mkdir', ['-p', join(dir, 'supervise')]);
    writeFileSync(join(dir, 'supervise', 'service-lock'), '');
  }
  await startSupervisor(t, kind, dir);
  await waitForContent(join(dir, 'fd4'), /service-lock/);
  const probe = (path: string) => run('python3', ['-c', `import fcntl,sys\nf=open(${JSON.stringify(path)},'r+')\ntry:\n  fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB)\n  sys.exit(0)\nexcept OSError:\n  sys.exit(3)`]);
  const lock = join(dir, 'supervise', 'service-lock');
  // s6 2.11 locks in its forked child in a way an outside lockf probe does not
  // see (spec: lock-fd is broken in 2.11); tether, like the newest s6, holds a real lock.
  if (kind.name === 'tether') t.equal((await probe(lock)).code, 3, 'held while the service runs');
  await svc(dir, '-wd', ...T, '-d');
  t.equal((await probe(lock)).code, 0, 'released when it died');
});

t.test('tether-only control bytes: l, P, C, K (s6 2.11 ignores them)', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), RECORDER, { 'reload-signal': 'USR2\n' });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForContent(join(dir, 'ran'), /\n/);
  const pid = statusPid(dir);
  writeControl(join(dir, 'supervise'), 'l');
  await waitForContent(join(dir, 'sigs'), /^USR2\n$/);
  writeControl(join(dir, 'supervise'), 'P');
  await waitForStatus(dir, (s) => s.paused, 'paused');
  t.equal((await svstat(dir, '-o', 'paused')).stdout, 'true\n');
  t.equal(procStat(pid)?.state, 'T', 'the group is stopped');
  writeControl(join(dir, 'supervise'), 'C');
  await waitForContent(join(dir, 'sigs'), /CONT\n$/);
  await waitForStatus(dir, (s) => !s.paused, 'not paused');
  t.equal((await svstat(dir, '-o', 'paused')).stdout, 'false\n');
  const restarted = spawn('/usr/bin/s6-svwait', ['-d', '-t', '30000', dir], { stdio: 'ignore' });
  const down = exitOf(restarted);
  writeControl(join(dir, 'supervise'), 'K');
  t.same(await down, { code: 0, signal: null }, 'K killed the group');
  await bounded(s6('s6-svwait', '-u', '-t', '30000', dir), 35_000, 'restart');
  t.not(statusPid(dir), pid);
});

each('svc -D -U -O -Q: the down file and want-up without killing', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  await startSupervisor(t, kind, dir);
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  t.equal((await svc(dir, '-wD', ...T, '-D')).code, 0, 'svc -D');
  t.ok(existsSync(join(dir, 'down')), 'D created ./down');
  t.equal((await svstat(dir, '-o', 'up,wantedup,normallyup')).stdout, 'false false false\n');
  t.equal((await svc(dir, '-wu', ...T, '-U')).code, 0, 'svc -U');
  t.notOk(existsSync(join(dir, 'down')), 'U removed ./down');
  const pid = statusPid(dir);
  t.equal((await svc(dir, '-O')).code, 0);
  await waitForStatus(dir, (s) => !s.wantup, 'O cleared want-up');
  t.equal((await svstat(dir, '-o', 'up,wantedup,pid')).stdout, `true false ${pid}\n`, 'O does not kill');
  await svc(dir, '-u');
  await waitForStatus(dir, (s) => s.wantup, 'want up again');
  t.equal((await svc(dir, '-Q')).code, 0);
  await waitForStatus(dir, (s) => !s.wantup, 'Q cleared want-up');
  t.ok(existsSync(join(dir, 'down')), 'Q created ./down');
  t.equal((await svstat(dir, '-o', 'up,pid,normallyup')).stdout, `true ${pid} false\n`, 'Q does not kill either');
});

each('SIGINT: the service\'s group gets SIGINT and the supervisor exits', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), RECORDER, { 'exit-on': 'INT\n' });
  const sup = await startSupervisor(t, kind, dir);
  await waitForContent(join(dir, 'ran'), /\n/);
  process.kill(sup.child.pid!, 'SIGINT');
  t.same(await sup.ended(), { code: 0, signal: null }, 'exits 0');
  await waitForContent(join(dir, 'sigs'), /^INT\n$/);
  t.pass('the service got SIGINT');
}, { processOnly: true });

each('SIGHUP closes the supervisor\'s stdin and stdout (a logger downstream sees EOF)', async (t, kind) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  const sup = await startSupervisor(t, kind, dir, { stdio: 'pipe' });
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  // s6-supervise closes fd 1 before it opens /dev/null there: for a moment it names nothing.
  const fd = (n: number) => {
    try {
      return readlinkSync(`/proc/${sup.child.pid}/fd/${n}`);
    } catch {
      return '';
    }
  };
  t.match(fd(1), /^(pipe|socket):/, 'stdout is the pipe we gave it');
  process.kill(sup.child.pid!, 'SIGHUP');
  await waitForProc(() => fd(1) === '/dev/null', 'stdout to become /dev/null');
  t.equal(fd(0), '/dev/null', 'stdin too');
  t.match(fd(2), /^(pipe|socket):/, 'stderr stays');
  await svc(dir, '-k');
  t.same(await sup.ended(), { code: 0, signal: null });
}, { processOnly: true });
