// The watchdog and health checks under tether supervise, end to end: real
// processes, real signals. No timing is asserted (the machine is shared):
// the tests check what happened and in which order.
import t from 'tap';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, makeService, tempDir, tether } from '../lib/harness';
import { readStatus } from '../../src/wire/status';
import { startSupervisor, TETHER_SUPERVISE, waitForContent, waitForProc, waitForStatus } from '../supervise/lib';
import { HAVE_PYTHON, NOTIFY_PY, PYTHON, relayService } from './lib';

const skip = HAVE_PYTHON ? false : `${PYTHON} is not installed`;
const FINISH = 'echo "exit=$1 sig=$2 result=$SERVICE_RESULT" >> finished\n';

t.test('watchdog: pings twice, stops, gets SIGABRT, is restarted; the reason is recorded', { skip }, async (t) => {
  const svc = await relayService(t, join(tempDir(t), 'svc'), { 'watchdog-usec': '400000\n', finish: FINISH });
  const env = svc.env();
  t.equal(env.WATCHDOG_USEC, '400000');
  t.equal(env.WATCHDOG_PID, env.PID, 'WATCHDOG_PID is run\'s own pid');
  const firstPid = readStatus(svc.dir).pid;
  t.equal(String(firstPid), env.PID, 'and the pid the supervisor watches');
  await svc.send('READY=1');
  await waitForStatus(svc.dir, (s) => s.ready && s.pid === firstPid, 'ready');
  await svc.command('ping 2 100');
  const finished = await waitForContent(join(svc.dir, 'finished'), /exit=256 sig=6 result=watchdog/);
  t.match(finished, /^exit=256 sig=6 result=watchdog$/m, 'killed by SIGABRT; finish is told why');
  await waitForStatus(svc.dir, (s) => s.pid > 0 && s.pid !== firstPid && !s.finishing, 'restarted');
  t.pass('run was started again');
  t.equal(svc.notifyStatus().reason, 'watchdog', 'notify-status records the reason');
  const [row] = JSON.parse((await tether(['status', '--json', svc.dir])).stdout);
  t.match(row.notify, { reason: 'watchdog', watchdog: { usec: 400000 } }, 'tether status --json shows the reason and the watchdog');
  await svc.sup.waitForStderr(/watchdog: no WATCHDOG=1 within 400 ms: sending SIGABRT to pid \d+/);
});

t.test('watchdog: WATCHDOG=trigger; a service ignoring the signal gets timeout-kill\'s SIGKILL', { skip }, async (t) => {
  const dir = join(tempDir(t), 'svc');
  makeService(dir, `#!/bin/sh\ntrap '' ABRT\n[ -e finished ] && exec sleep 1000\n${PYTHON} notify.py READY=1 WATCHDOG=trigger\nexec sleep 1000\n`, {
    'notify-socket': '', 'notify-access': 'exec\n', 'notify.py': NOTIFY_PY, 'watchdog-usec': '60000000\n', 'timeout-kill': '300\n', finish: FINISH,
  });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  const finished = await waitForContent(join(dir, 'finished'), /result=watchdog/);
  t.match(finished, /^exit=256 sig=9 result=watchdog$/m, 'SIGABRT ignored, then SIGKILL after timeout-kill');
});

t.test('health: check makes the service ready, then failing checks restart it after health-retries', { skip }, async (t) => {
  const dir = join(tempDir(t), 'svc');
  makeService(dir, 'exec sleep 1000', {
    'check-interval': '100\n', 'health-retries': '2\n', finish: FINISH,
  });
  writeFileSync(join(dir, 'check'), '#!/bin/sh\necho x >> checks\ntest -e healthy\n', { mode: 0o755 });
  writeFileSync(join(dir, 'healthy'), '');
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForStatus(dir, (s) => s.pid > 0 && s.ready, 'ready through check');
  const firstPid = readStatus(dir).pid;
  t.match(JSON.parse(readFileSync(join(dir, 'supervise', 'notify-status'), 'utf8')), { check: { ok: true, code: 0, failures: 0 } });
  rmSync(join(dir, 'healthy'));
  const finished = await waitForContent(join(dir, 'finished'), /result=health/);
  t.match(finished, /^exit=256 sig=15 result=health$/m, 'down-signal, and finish is told why');
  await waitForStatus(dir, (s) => s.pid > 0 && s.pid !== firstPid, 'restarted');
  const st = JSON.parse(readFileSync(join(dir, 'supervise', 'notify-status'), 'utf8'));
  t.equal(st.reason, 'health');
  t.match(st.check, { ok: false, code: 1, failures: 2 }, 'the last check result');
  const [row] = JSON.parse((await tether(['status', '--json', dir])).stdout);
  t.match(row.notify, { reason: 'health', check: { ok: false, code: 1 } }, 'tether status --json shows them (the checks go on meanwhile)');
});

t.test('health: a hanging check is killed after check-timeout, with what it started', { skip }, async (t) => {
  const dir = join(tempDir(t), 'svc');
  makeService(dir, 'exec sleep 1000', { 'check-interval': '100\n', 'check-timeout': '300\n' });
  writeFileSync(join(dir, 'check'), '#!/bin/sh\nsleep 1000 &\necho $! >> check-pids\nwait\n', { mode: 0o755 });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForContent(join(dir, 'supervise', 'notify-status'), /"timed_out":true/);
  await sup.waitForStderr(/check exceeded check-timeout \(300 ms\): killed/);
  const pid = Number(readFileSync(join(dir, 'check-pids'), 'utf8').split('\n')[0]);
  await waitForProc(() => !alive(pid), `the check's child ${pid} killed`);
  t.pass('the check\'s own child was killed with it');
  t.notOk(readStatus(dir).ready, 'a check that never passes never makes the service ready');
});
