// Issue 15, item 4: a new scanner over supervisors that are still alive (the
// previous scanner was SIGKILLed) waits for their locks at near-zero CPU,
// instead of respawning a supervisor that exits 100 every second; and it
// starts one as soon as a lock is free. Beside Debian's s6-svscan, which
// respawns an s6-supervise that exits at once, about once a second per
// service: its CPU is a figure, not a bound.
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, alive, makeService, tempDir } from '../lib/harness';
import { startScanner, supervisorOf, supervisorsOf, waitExit, waitUp } from '../scan/lib';
import { cpuMs, Findings, IMPLS, killTreeAtTeardown, makeNeighbour, NeighbourProbe, recordFigures, startTree, until, type Impl } from './lib';

const NAMES = ['a', 'b', 'c'];
const WINDOW_MS = 5000;
const found = new Findings();

/** A scanner of `impl` on `scandir`, and its stderr (tether's only; s6's is not kept). */
async function scanner(t: Test, impl: Impl, scandir: string): Promise<{ pid: number; stderr: () => string }> {
  if (impl === 'tether') {
    const sc = await startScanner(t, scandir);
    return { pid: sc.pid, stderr: () => sc.output().stderr };
  }
  return { pid: (await startTree(t, impl, scandir, [])).pid, stderr: () => '' };
}

for (const impl of IMPLS) {
  t.test(`${impl}: a new scanner over live supervisors: its CPU, and a freed service taken over`, async (t) => {
    const root = tempDir(t, 'tether-faults-');
    const scandir = join(root, 'scan');
    for (const n of NAMES) makeService(join(scandir, n), 'exec sleep 1000000');
    const first = await scanner(t, impl, scandir);
    for (const n of NAMES) await waitUp(join(scandir, n));
    const supervisors = NAMES.map((n) => supervisorOf(first.pid, n) as number);
    killTreeAtTeardown(t, first.pid);
    process.kill(first.pid, 'SIGKILL');
    await waitExit(t, first.pid);
    t.ok(supervisors.every(alive), 'the old supervisors live on');

    // A service only the new scanner supervises: driven while it takes over.
    const neighbour = makeNeighbour(scandir, `rescan-${impl}-${process.pid}`);
    const second = await scanner(t, impl, scandir);
    // The window starts once its first scan is done: the neighbour's supervisor started, and
    // (tether) each live supervisor named.
    await until(() => existsSync(join(neighbour, 'supervise', 'status')), BOUND_MS, 'the neighbour supervised');
    if (impl === 'tether') await until(() => NAMES.every((n) => second.stderr().includes(`${n}: already supervised`)), BOUND_MS, 'the new scanner naming each live supervisor');
    const before = cpuMs(second.pid);
    // A measurement window, not a wait for an event: what it costs to do nothing.
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const spent = cpuMs(second.pid) - before;
    if (impl === 'tether') {
      t.ok(spent < 200, `the new scanner spent ${spent} ms of CPU (its own and its children's) in ${WINDOW_MS} ms`);
      for (const n of NAMES) t.same(supervisorsOf(second.pid, n), [], `no supervisor of its own for ${n} while the old one lives`);
      t.match(second.stderr(), /a: already supervised/, 'it says why it waits');
    }

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
    found.note('rescan', impl, `${spent} ms; up ${recovery.toFixed(0)} ms after the lock was freed; ${neighbourMs}`);
  });
}

t.teardown(() => recordFigures('rescan', [found.row('rescan',
  'scanner SIGKILLed, a new scanner over its 3 live supervisors; then one of them stops',
  `CPU of the new scanner (and its reaped children) in ${WINDOW_MS / 1000} s; time from the lock freed to up under the new scanner; the new scanner's own neighbour's svc -wu latency meanwhile`)]));
