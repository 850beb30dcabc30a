// tether supervise is a child subreaper: a service's orphans land on it and
// are reaped, so no zombie stays. Debian's s6-supervise (2.11) is not a
// subreaper, so these cases are tether's alone.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { procStat } from '../../src/os/proc';
import { alive, makeService, tempDir, zombiesLeft } from '../lib/harness';
import { TETHER_SUPERVISE, s6, startSupervisor, waitForContent, waitForProc } from './lib';

t.test('an orphan re-parented to the supervisor is reaped when it dies', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), 'sh -c \'sleep 100000 & echo $! > orphan.pid\'\nexec sleep 100000');
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  const orphan = Number((await waitForContent(join(dir, 'orphan.pid'), /^\d+\n$/)).trim());
  t.teardown(() => { if (alive(orphan)) process.kill(orphan, 'SIGKILL'); });
  await waitForProc(() => procStat(orphan)?.ppid === sup.child.pid, 'the orphan to be re-parented');
  t.equal(procStat(orphan)?.ppid, sup.child.pid, 'the supervisor adopted the orphan');
  process.kill(orphan, 'SIGTERM');
  await waitForProc(() => procStat(orphan) === null, 'the orphan to be reaped');
  t.same(await zombiesLeft(sup.child.pid!), [], 'no zombie left');
  t.equal(sup.child.exitCode, null, 'the supervisor carries on');
});

t.test('many orphans dying together are all reaped', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'),
    'for i in 1 2 3 4 5 6 7 8; do sh -c \'sleep 100000 & echo $! >> orphans\'; done; echo done >> orphans; exec sleep 100000');
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  const text = await waitForContent(join(dir, 'orphans'), /done\n$/);
  const pids = text.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
  t.equal(pids.length, 8);
  t.teardown(() => { for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL'); });
  await waitForProc(() => pids.every((p) => procStat(p)?.ppid === sup.child.pid), 'the orphans to be re-parented');
  for (const p of pids) process.kill(p, 'SIGKILL');
  await waitForProc(() => pids.every((p) => procStat(p) === null), 'every orphan to be reaped');
  t.same(await zombiesLeft(sup.child.pid!), []);
  t.match(readFileSync(`/proc/${sup.child.pid}/status`, 'latin1'), /State:\s+S/, 'the supervisor is idle again');
});
