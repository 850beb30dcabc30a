// The process-wide reaper, in this test process: it spawns only through
// posix_spawn (never child_process), so every child here is the reaper's.
import t from 'tap';
import { spawnProgram } from '../../src/os/native';
import { reaper } from '../../src/os/reaper';
import { BOUND_MS, bounded } from '../lib/harness';

reaper.start({ subreaper: false });

function sleeper(): number {
  const pid = spawnProgram({ path: '/bin/sleep', argv: ['sleep', '1000'], env: process.env, fds: new Map() });
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // reaped already
    }
  });
  return pid;
}

const reaped = (pid: number) => bounded(new Promise<number>((res) => reaper.watch(pid, (_p, wstat) => res(wstat))), BOUND_MS, `reap of ${pid}`);

t.test('every listener watching a pid is called, once, with the wait status', async (t) => {
  const pid = sleeper();
  const first = reaped(pid);
  const second = reaped(pid);
  t.ok(reaper.adoptedChildren().includes(pid), 'listed among our children');
  process.kill(pid, 'SIGKILL');
  t.same(await Promise.all([first, second]), [9, 9], 'both listeners got the SIGKILL status');
  t.notOk(reaper.adoptedChildren().includes(pid), 'gone from the list');
});

t.test('a child that nobody watches goes to the orphan listeners', async (t) => {
  const pid = sleeper();
  const orphan = bounded(new Promise<[number, number]>((res) => reaper.onOrphan((p, w) => p === pid && res([p, w]))), BOUND_MS, 'the orphan');
  process.kill(pid, 'SIGTERM');
  t.same(await orphan, [pid, 15]);
});
