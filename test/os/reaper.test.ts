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

// A watcher that starts a new child at once (a supervisor restarting a
// service whose throttle second has passed), whose child dies at once: the
// reaper must still let the event loop turn. Before, each SIGCHLD reaped in
// the signal callback until no child had exited, so the loopers kept libuv's
// signal read loop busy for ever and no timer, byte or signal was served
// (tether svscan --shared with 100 crash-looping services).
t.test('children that die and are replaced at once do not starve the event loop', async (t) => {
  const LOOPERS = 40;
  let looping = true;
  let reaps = 0;
  const last = new Map<number, Promise<void>>();
  const loop = (slot: number): void => {
    const pid = spawnProgram({ path: '/bin/true', argv: ['true'], env: process.env, fds: new Map() });
    last.set(slot, new Promise((res) => reaper.watch(pid, () => {
      reaps++;
      if (looping) loop(slot);
      res();
    })));
  };
  for (let slot = 0; slot < LOOPERS; slot++) loop(slot);
  // A timer, as the one that restarts a throttled service or ends a test.
  const turned = await bounded(new Promise<number>((res) => setTimeout(() => res(reaps), 200)), BOUND_MS, 'a timer while the loopers run');
  looping = false;
  t.ok(turned > 0, `the timer fired while children kept dying (${turned} reaped by then)`);
  // Every looper's last child is reaped too: a pass cut short goes on by itself.
  await bounded(Promise.all([...last.values()]), BOUND_MS, 'the last children of the loopers');
  t.equal(reaper.adoptedChildren().length, 0, 'no child left, no zombie');
});
