// MAINPID= and EXTEND_TIMEOUT_USEC= under tether's supervisor, end to end,
// with python3 senders: a run that forks and hands over to its child is
// followed (status pid, svc's signals, the child's death taking the ordinary
// down, finish and restart path); a MAINPID= of a process outside the service
// is refused; EXTEND_TIMEOUT_USEC= moves the readiness bound of a pidfile
// start (timeout-ready) and a stop's SIGKILL. test/shared/notify-mainpid runs
// the same file in shared mode.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeService, startProcess, tempDir } from '../lib/harness';
import { procStat } from '../../src/os/proc';
import { readDeathTally } from '../../src/wire/deathtally';
import { readStatus } from '../../src/wire/status';
import { TETHER_SUPERVISE, startSupervisor, svc, waitForContent, waitForProc, waitForStatus } from '../supervise/lib';
import { HAVE_PYTHON, PYTHON } from './lib';

const skip = HAVE_PYTHON ? false : `${PYTHON} is not installed`;

/** The sender's socket, as every script here opens it. */
const SOCKET_PY = `import os, signal, socket, sys, time
a = os.environ['NOTIFY_SOCKET']
a = '\\0' + a[1:] if a.startswith('@') else a
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
`;

/**
 * run forks a child (sleep), records "RUNPID CHILDPID" in `runs`, names the
 * child with MAINPID= and exits 0; with a `foreign` file, it names that pid
 * instead and stays (exec sleep).
 */
const HANDOVER = `#!${PYTHON}
${SOCKET_PY}
if os.path.exists('foreign'):
    s.sendto(b'MAINPID=%d' % int(open('foreign').read()), a)
    s.sendto(b'STATUS=sent', a)
    os.execv('/bin/sleep', ['sleep', '100000'])
child = os.fork()
if child == 0:
    os.execv('/bin/sleep', ['sleep', '100000'])
with open('runs', 'a') as f:
    f.write('%d %d\\n' % (os.getpid(), child))
s.sendto(b'MAINPID=%d' % child, a)
sys.exit(0)
`;

function runs(dir: string): Array<[run: number, child: number]> {
  if (!existsSync(join(dir, 'runs'))) return [];
  return readFileSync(join(dir, 'runs'), 'latin1').trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]);
}

/** Gone from /proc: reaped (by us: the supervisor judged its exit in the same turn). */
const reaped = (pid: number) => procStat(pid) === null;

t.test('MAINPID= from run: the child it names is followed as the main process', { skip }, async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), HANDOVER, {
    'notify-socket': '',
    finish: '#!/bin/sh\necho "$@" >> finished\n',
  });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForProc(() => runs(dir).length === 1, 'run to fork its child');
  const [runPid, child] = runs(dir)[0];
  await waitForStatus(dir, (s) => s.pid === child, 'status to name the child');
  await waitForProc(() => reaped(runPid), 'run to exit and be reaped');
  const st = readStatus(dir);
  t.equal(st.pid, child, 'after run exited, the status still names the child');
  t.notOk(st.finishing, 'the service is up, not finishing');
  t.same(readDeathTally(dir), [], 'run\'s exit was no death');
  t.notOk(existsSync(join(dir, 'finished')), 'finish did not run');
  await waitForContent(join(dir, 'supervise', 'notify-status'), new RegExp(`"mainpid":${child}`));

  t.equal((await svc(dir, '-t')).code, 0);
  await waitForContent(join(dir, 'finished'), /\n/);
  t.equal(readFileSync(join(dir, 'finished'), 'latin1').split(' ').slice(0, 2).join(' '), '256 15', 'finish: killed by SIGTERM');
  t.equal(readFileSync(join(dir, 'finished'), 'latin1').trim().split(' ')[3], String(child), 'finish names the child\'s pid');
  t.match(readDeathTally(dir), [{ exitcode: 143, sig: 15 }], 'the child\'s death is the service\'s, in the death tally');
  t.ok(reaped(child), 'svc -t reached the child');
  await waitForProc(() => runs(dir).length === 2, 'the service to restart');
  const [, child2] = runs(dir)[1];
  await waitForStatus(dir, (s) => s.pid === child2, 'status to name the new child');
  t.equal((await svc(dir, '-d')).code, 0);
  await waitForStatus(dir, (s) => s.pid === 0 && !s.finishing && !s.wantup, 'down after svc -d');
  t.ok(reaped(child2), 'svc -d brought the followed child down');
});

t.test('MAINPID= of a process outside the service is refused', { skip }, async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), HANDOVER, { 'notify-socket': '' });
  const stranger = startProcess(t, 'sleep', ['100000']);
  writeFileSync(join(dir, 'foreign'), String(stranger.pid));
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  const line = await sup.waitForStderr(/ignoring MAINPID=/);
  t.match(line, new RegExp(`ignoring MAINPID=${stranger.pid} from pid \\d+: not a process of this service$`));
  await waitForContent(join(dir, 'supervise', 'notify-status'), /"status":"sent"/);
  const runPid = Number(/from pid (\d+)/.exec(line)![1]);
  t.equal(readStatus(dir).pid, runPid, 'the status still names run');
  t.notMatch(readFileSync(join(dir, 'supervise', 'notify-status'), 'latin1'), /mainpid/, 'no mainpid recorded');
  t.equal((await svc(dir, '-d')).code, 0);
  await waitForStatus(dir, (s) => s.pid === 0 && !s.finishing, 'down after svc -d');
  const st = procStat(stranger.pid!);
  t.ok(st !== null && st.state !== 'Z', 'the stranger was never signalled');
});

t.test('EXTEND_TIMEOUT_USEC= from a pidfile parent extends timeout-ready', { skip }, async (t) => {
  // timeout-ready is 2 s; the parent says it needs longer, takes 4 s, then forks the daemon.
  const dir = makeService(join(tempDir(t), 'svc'), `#!${PYTHON}
${SOCKET_PY}
s.sendto(b'EXTEND_TIMEOUT_USEC=60000000', a)
time.sleep(4)
pid = os.fork()
if pid == 0:
    os.setsid()
    os.execv('/bin/sleep', ['sleep', '100000'])
with open('app.pid.new', 'w') as f:
    f.write('%d\\n' % pid)
os.rename('app.pid.new', 'app.pid')
sys.exit(0)
`, { 'notify-socket': '', pidfile: 'app.pid\n', 'timeout-ready': '2000\n' });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForContent(join(dir, 'app.pid'), /^\d+\n$/);
  const daemon = Number(readFileSync(join(dir, 'app.pid'), 'latin1'));
  await waitForStatus(dir, (s) => s.pid === daemon, 'the daemon to be adopted');
  t.notMatch(sup.stderr(), /timeout-ready/, 'the parent was not killed at timeout-ready');
  t.same(readDeathTally(dir), [], 'no failed start');
  t.equal((await svc(dir, '-d')).code, 0);
  await waitForStatus(dir, (s) => s.pid === 0 && !s.finishing, 'down after svc -d');
  t.ok(reaped(daemon), 'the adopted daemon went down');
});

t.test('EXTEND_TIMEOUT_USEC= during a stop pushes timeout-kill\'s SIGKILL out', { skip }, async (t) => {
  // timeout-kill is 1 s; on SIGTERM the service asks for more and exits 7 after 3 s.
  const dir = makeService(join(tempDir(t), 'svc'), `#!${PYTHON}
${SOCKET_PY}
def term(*_):
    s.sendto(b'EXTEND_TIMEOUT_USEC=60000000', a)
    time.sleep(3)
    sys.exit(7)
signal.signal(signal.SIGTERM, term)
s.sendto(b'READY=1', a)
while True:
    signal.pause()
`, { 'notify-socket': '', 'timeout-kill': '1000\n' });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForStatus(dir, (s) => s.ready && s.pid > 0, 'ready');
  t.equal((await svc(dir, '-d')).code, 0);
  await waitForStatus(dir, (s) => s.pid === 0 && !s.finishing, 'down after svc -d');
  t.match(readDeathTally(dir), [{ exitcode: 7, sig: 0 }], 'it exited 7 by itself: no SIGKILL at timeout-kill');
});
