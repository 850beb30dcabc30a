// Issue 15, item 1: a service never runs twice, whatever its status file says.
// Status writes fail (supervise/ is a full tmpfs), the service is killed and
// restarted (the status still names the dead instance), then its supervisor
// (in shared mode: the scanner hosting it) is SIGKILLed. The instance that
// takes over must stop the live orphan, found by what the scanner knows for
// sure, not by the stale pid. A sampler looks at /proc every 10 ms.
import t from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, makeService, tempDir } from '../lib/harness';
import { startScanner, statusPid, supervisorOf, waitExit, waitUp } from '../scan/lib';
import { fillUp, killTreeAtTeardown, InstanceSampler, instancesOf, markedRun, mountTmpfs, recordFigures, until, type Figure } from './lib';

const figures: Figure[] = [];

for (const mode of ['process', 'shared'] as const) {
  t.test(`${mode} mode: status writes failing, service restarted, supervisor SIGKILLed: never two instances`, { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' }, async (t) => {
    const root = tempDir(t, 'tether-faults-');
    const scandir = join(root, 'scan');
    const dir = join(scandir, 'a');
    const id = `twice-${mode}-${process.pid}`;
    mountTmpfs(t, join(dir, 'supervise'), '256k');
    makeService(dir, markedRun(id));
    const args = mode === 'shared' ? ['--shared'] : [];
    const sampler = new InstanceSampler(t, [id]);
    const sc = await startScanner(t, scandir, { args });
    await waitUp(dir);
    const first = statusPid(dir);
    // Up is written when run starts; the marker appears once the script has exec'd.
    await until(() => instancesOf(id).includes(first), BOUND_MS, 'the first instance past its exec');
    t.same(instancesOf(id), [first], 'one instance, the one the status names');

    const fill = fillUp(join(dir, 'supervise'));
    process.kill(first, 'SIGKILL');
    await until(() => instancesOf(id).some((p) => p !== first), BOUND_MS, 'the restarted instance');
    // The killed one may not be a zombie yet: pick the new one, not the first listed.
    const second = instancesOf(id).find((p) => p !== first) as number;
    t.equal(statusPid(dir), first, 'the status still names the dead instance: its writes failed');

    const host = mode === 'shared' ? sc.pid : supervisorOf(sc.pid, 'a');
    t.ok(host, 'the host of the supervisor is found');
    if (mode === 'shared') killTreeAtTeardown(t, sc.pid);
    const killedAt = performance.now();
    process.kill(host as number, 'SIGKILL');
    await waitExit(t, host as number);
    rmSync(fill);
    if (mode === 'shared') await startScanner(t, scandir, { args });
    await until(() => {
      try {
        const pid = statusPid(dir);
        return pid !== first && pid !== second && pid > 0;
      } catch {
        return false;
      }
    }, BOUND_MS, 'a new instance in the status');
    await waitUp(dir);
    const now = statusPid(dir);
    await until(() => instancesOf(id).includes(now), BOUND_MS, 'the new instance past its exec');
    const recovery = performance.now() - killedAt;
    t.equal(sampler.maxOf(id), 1, `never two instances alive at once (${sampler.samples} samples)`);
    t.same(instancesOf(id), [now], 'the one instance alive is the one the status names');
    t.notOk(instancesOf(id).includes(second), 'the orphaned instance was stopped');
    figures.push({
      scenario: `status writes failing (full tmpfs), service restarted, then its ${mode === 'shared' ? 'shared scanner' : 'supervisor'} SIGKILLed`,
      check: 'most instances alive at once (10 ms sampler); recovery to up with a correct status',
      tether: `${sampler.maxOf(id)}; ${recovery.toFixed(0)} ms`,
      s6: null,
    });
  });
}

t.teardown(() => recordFigures('twice', figures));
