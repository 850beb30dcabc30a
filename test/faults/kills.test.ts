// Kills, injected from outside: a supervisor SIGKILLed at random moments many
// times, and the whole tree SIGKILLed then a new scanner. The same scenario
// runs under Debian's s6-svscan/s6-supervise where installed. Checked: never
// two instances alive at once (a /proc sampler, every 10 ms) for tether;
// recorded for both: the most instances seen, and the recovery time (from
// the kill to "up, and the status names the one live instance").
import t from 'tap';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, makeService, tempDir } from '../lib/harness';
import { waitExit } from '../scan/lib';
import { Findings, IMPLS, InstanceSampler, instancesOf, killTreeAtTeardown, makeNeighbour, markedRun, NeighbourProbe, percentiles, recordFigures, startTree, until, upInLine, upPid, allowFileTime } from './lib';

/** Under load this file took 115-170 s: twice that and more, before it counts as hung. */
allowFileTime(600_000);

const KILLS = 12;
const found = new Findings();

/** Up, and the status names the one instance alive. */
function recovered(dir: string, id: string, before: number): boolean {
  const pid = upPid(dir);
  const live = instancesOf(id);
  return pid > 0 && pid !== before && live.includes(pid);
}

for (const impl of IMPLS) {
  t.test(`${impl}: a supervisor SIGKILLed ${KILLS} times at random moments`, async (t) => {
    const root = tempDir(t, 'tether-faults-');
    const dir = join(root, 'scan', 'svc');
    const id = `kills-${impl}-${process.pid}`;
    makeService(dir, markedRun(id));
    const neighbour = makeNeighbour(join(root, 'scan'), id);
    const sampler = new InstanceSampler(t, [id]);
    const tree = await startTree(t, impl, join(root, 'scan'), [dir]);
    await until(() => upInLine(dir, id), BOUND_MS, 'the service past its exec');
    const probe = await NeighbourProbe.start(t, neighbour);
    const recovery: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const sup = tree.supervisor('svc');
      t.ok(sup, `kill ${i + 1}: a supervisor runs`);
      // A random moment: right after a start, during the spawn, or well after.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 200)));
      const before = upPid(dir);
      const at = performance.now();
      process.kill(sup as number, 'SIGKILL');
      await waitExit(t, sup as number);
      await until(() => tree.supervisor('svc') !== undefined && tree.supervisor('svc') !== sup && recovered(dir, id, before), 2 * BOUND_MS, 'up again');
      recovery.push(performance.now() - at);
    }
    const neighbourMs = await probe.finish(t);
    const most = sampler.maxOf(id);
    if (impl === 'tether') t.equal(most, 1, `never two instances (${sampler.samples} samples)`);
    else t.ok(most >= 1, `s6: at most ${most} instances at once`);
    found.note('kill', impl, `${most} at most; recovery ${percentiles(recovery)}; ${neighbourMs}`);
  });

  t.test(`${impl}: the whole tree SIGKILLed, then a new scanner`, async (t) => {
    const root = tempDir(t, 'tether-faults-');
    const scandir = join(root, 'scan');
    const names = ['a', 'b', 'c'];
    const ids = names.map((n) => `tree-${impl}-${n}-${process.pid}`);
    const dirs = names.map((n, i) => makeService(join(scandir, n), markedRun(ids[i])));
    const sampler = new InstanceSampler(t, ids);
    const tree = await startTree(t, impl, scandir, dirs);
    await until(() => dirs.every((d, i) => upInLine(d, ids[i])), 2 * BOUND_MS, 'all past their exec');
    const everything = [tree.pid, ...killTreeAtTeardown(t, tree.pid)];
    const at = performance.now();
    for (const p of everything) process.kill(p, 'SIGKILL');
    for (const p of everything) await waitExit(t, p);
    await startTree(t, impl, scandir, dirs);
    await until(() => dirs.every((d, i) => upInLine(d, ids[i])), 2 * BOUND_MS, 'all up with a correct status');
    const ms = performance.now() - at;
    t.equal(sampler.max(), 1, `never two instances of a service (${sampler.samples} samples)`);
    found.note('tree', impl, `${sampler.max()} at most; recovery ${ms.toFixed(0)} ms`);
  });
}

t.teardown(() => {
  const row = found.row.bind(found);
  recordFigures('kills', [
    row('kill', `a supervisor SIGKILLed ${KILLS} times, at random moments`, 'most instances alive at once (10 ms sampler); recovery to up with a correct status; a healthy neighbour\'s svc -wu latency meanwhile'),
    row('tree', 'scanner, supervisors and services all SIGKILLed, then a new scanner (3 services)', 'most instances of a service at once; recovery of all three to up with a correct status (no neighbour: the whole tree is the fault)'),
  ]);
});
