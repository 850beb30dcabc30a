// Process faults, injected from outside, against tether and Debian's s6: a
// supervisor stopped (SIGSTOP) while clients send it commands, then SIGCONT;
// a service that ignores SIGTERM; a service stopped by SIGSTOP. Checked:
// nothing lost (the commands sent meanwhile take effect, never two
// instances), and each service does go down. Times are recorded, not asserted.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, HAVE_S6, TETHER, alive, exitOf, makeService, tempDir, tether } from '../lib/harness';
import { InstanceSampler, markedRun, recordFigures, startTree, StatusReader, upPid, type Figure, type Impl } from './lib';

const IMPLS: Impl[] = HAVE_S6 ? ['tether', 's6'] : ['tether'];
const CLIENTS = 10;
const found = new Map<string, Partial<Record<Impl, string>>>();
const note = (key: string, impl: Impl, figure: string) => found.set(key, { ...found.get(key), [impl]: figure });

for (const impl of IMPLS) {
  t.test(`${impl}: a supervisor stopped while ${CLIENTS} clients send commands, then continued`, async (t) => {
    const root = tempDir(t, 'tether-faults-');
    const dir = join(root, 'scan', 'svc');
    const id = `sigstop-${impl}-${process.pid}`;
    makeService(dir, markedRun(id));
    const sampler = new InstanceSampler(t, [id]);
    const tree = await startTree(t, impl, join(root, 'scan'), [dir]);
    const sup = tree.supervisor('svc') as number;
    const pid = upPid(dir);
    const reader = new StatusReader(t, dir);
    process.kill(sup, 'SIGSTOP');
    t.teardown(() => alive(sup) && process.kill(sup, 'SIGCONT'));
    // A waiter subscribed before the commands, and the commands (o: once, then d: down).
    const waiter = spawn(process.execPath, [TETHER, 'svwait', '-D', '-t', String(2 * BOUND_MS), dir], { stdio: 'ignore' });
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => tether(['svc', i === CLIENTS - 1 ? '-d' : '-o', dir])));
    t.same(clients.map((c) => c.code), Array(CLIENTS).fill(0), 'every client could send its command to the stopped supervisor');
    t.equal(upPid(dir), pid, 'nothing happened while it was stopped');
    const at = performance.now();
    process.kill(sup, 'SIGCONT');
    t.equal((await exitOf(waiter, 3 * BOUND_MS)).code, 0, 'the waiter saw the service go down');
    const ms = performance.now() - at;
    reader.stop();
    t.equal(upPid(dir), 0, 'the last command (d) took effect');
    t.ok(alive(sup), 'the supervisor lives on');
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    t.equal(reader.torn, 0, `no status read torn (${reader.reads})`);
    note('sigstop', impl, `down ${ms.toFixed(0)} ms after SIGCONT; ${reader.torn} torn of ${reader.reads} status reads`);
  });

  for (const kind of ['ignores SIGTERM', 'is stopped (SIGSTOP)'] as const) {
    t.test(`${impl}: svc -d on a service that ${kind}`, async (t) => {
      const root = tempDir(t, 'tether-faults-');
      const dir = join(root, 'scan', 'svc');
      const id = `hard-${impl}-${kind.length}-${process.pid}`;
      const ignoring = kind === 'ignores SIGTERM';
      makeService(dir, markedRun(id, ignoring ? "trap '' TERM\n" : ''), ignoring ? { 'timeout-kill': '500\n' } : {});
      const sampler = new InstanceSampler(t, [id]);
      await startTree(t, impl, join(root, 'scan'), [dir]);
      const pid = upPid(dir);
      if (!ignoring) process.kill(pid, 'SIGSTOP');
      const at = performance.now();
      t.equal((await tether(['svc', '-wD', '-T', String(2 * BOUND_MS), '-d', dir], { timeout: 3 * BOUND_MS })).code, 0, 'svc -wD -d returned: down');
      const ms = performance.now() - at;
      t.notOk(alive(pid), 'the instance is gone');
      t.equal(upPid(dir), 0, 'the status says down');
      t.equal(sampler.maxOf(id), 1, 'never two instances');
      note(kind, impl, `down in ${ms.toFixed(0)} ms`);
    });
  }
}

t.teardown(() => {
  const row = (key: string, scenario: string, check: string): Figure =>
    ({ scenario, check, tether: found.get(key)?.tether ?? 'not run', s6: found.get(key)?.s6 ?? null });
  recordFigures('procs', [
    row('sigstop', `a supervisor SIGSTOPped while ${CLIENTS} clients send commands (o, then d), then SIGCONT`, 'every command accepted, the last applied; time to down after SIGCONT; torn status reads'),
    row('ignores SIGTERM', 'svc -wD -d on a service that ignores SIGTERM (timeout-kill 500)', 'down (killed); svc -wD latency'),
    row('is stopped (SIGSTOP)', 'svc -wD -d on a service stopped by SIGSTOP', 'down; svc -wD latency'),
  ]);
});
