// Issue 15, item 4: a new scanner over supervisors that are still alive (the
// previous scanner was SIGKILLed) waits for their locks at near-zero CPU,
// instead of respawning a supervisor that exits 100 every second; and it
// starts one as soon as a lock is free.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, alive, makeService, tempDir } from '../lib/harness';
import { startScanner, supervisorOf, supervisorsOf, waitExit, waitUp } from '../scan/lib';
import { cpuMs, killTreeAtTeardown, makeNeighbour, NeighbourProbe, recordFigures, until } from './lib';

const NAMES = ['a', 'b', 'c'];
const WINDOW_MS = 5000;

t.test('a new scanner over live supervisors costs near-zero CPU and takes over a freed service at once', async (t) => {
  const root = tempDir(t, 'tether-faults-');
  const scandir = join(root, 'scan');
  for (const n of NAMES) makeService(join(scandir, n), 'exec sleep 1000000');
  const first = await startScanner(t, scandir);
  for (const n of NAMES) await waitUp(join(scandir, n));
  const supervisors = NAMES.map((n) => supervisorOf(first.pid, n) as number);
  killTreeAtTeardown(t, first.pid);
  process.kill(first.pid, 'SIGKILL');
  await waitExit(t, first.pid);
  t.ok(supervisors.every(alive), 'the old supervisors live on');

  // A service only the new scanner supervises: driven while it takes over.
  const neighbour = makeNeighbour(scandir, `rescan-${process.pid}`);
  const second = await startScanner(t, scandir);
  // The window starts once its first scan is done: each live supervisor named, the neighbour's started.
  await until(() => NAMES.every((n) => second.output().stderr.includes(`${n}: already supervised`)), BOUND_MS, 'the new scanner naming each live supervisor');
  await until(() => existsSync(join(neighbour, 'supervise', 'status')), BOUND_MS, 'the neighbour supervised');
  const before = cpuMs(second.pid);
  // A measurement window, not a wait for an event: what it costs to do nothing.
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const spent = cpuMs(second.pid) - before;
  t.ok(spent < 200, `the new scanner spent ${spent} ms of CPU (its own and its children's) in ${WINDOW_MS} ms`);
  for (const n of NAMES) t.same(supervisorsOf(second.pid, n), [], `no supervisor of its own for ${n} while the old one lives`);
  t.match(second.output().stderr, /a: already supervised/, 'it says why it waits');

  // The old supervisor of `a` stops (its service with it): the new scanner takes over.
  const probe = await NeighbourProbe.start(t, neighbour);
  process.kill(supervisors[0], 'SIGTERM');
  await waitExit(t, supervisors[0]);
  const freed = performance.now();
  await until(() => supervisorOf(second.pid, 'a') !== undefined, BOUND_MS, 'a supervisor for a under the new scanner');
  await waitUp(join(scandir, 'a'));
  const recovery = performance.now() - freed;
  const neighbourMs = await probe.finish(t);
  t.pass('a is up again under the new scanner');
  recordFigures('rescan', [{
    scenario: 'scanner SIGKILLed, a new scanner over its 3 live supervisors; then one of them stops',
    check: `CPU of the new scanner (and its children) in ${WINDOW_MS / 1000} s; time from the lock freed to up under the new scanner; the new scanner's own neighbour's svc -wu latency meanwhile`,
    tether: `${spent} ms; up ${recovery.toFixed(0)} ms after the lock was freed; ${neighbourMs}`,
    s6: null,
  }]);
});
