// Resource faults, injected from outside, against tether and Debian's s6:
// supervise/ on a full filesystem, and a service directory made read-only
// under a running supervisor. Checked from /proc, since the status cannot be
// written: the supervisor lives on, commands still act, a killed service
// comes back, never two instances; once the fault ends, the next event
// brings the status back in line.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, alive, tether } from '../lib/harness';
import { fillUp, Findings, IMPLS, instancesOf, mountTmpfs, oneServiceTree, recordFigures, until, upPid } from './lib';

const ROOT_ONLY = { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' };
const found = new Findings();

for (const impl of IMPLS) {
  t.test(`${impl}: supervise/ on a full filesystem`, ROOT_ONLY, async (t) => {
    const { dir, id, sampler, sup, pid: first } = await oneServiceTree(t, impl, 'full', { prepare: (d) => mountTmpfs(t, join(d, 'supervise'), '256k') });
    const fill = fillUp(join(dir, 'supervise'));
    process.kill(first, 'SIGKILL');
    await until(() => instancesOf(id).some((p) => p !== first), BOUND_MS, 'the service restarted');
    await tether(['svc', '-d', dir]);
    await until(() => instancesOf(id).length === 0, BOUND_MS, 'the service down after svc -d');
    t.ok(alive(sup), 'the supervisor lives on with its status unwritable');
    rmSync(fill);
    const at = performance.now();
    t.equal((await tether(['svc', '-wu', '-T', String(BOUND_MS), '-u', dir], { timeout: 2 * BOUND_MS })).code, 0, 'up again once there is room');
    const ms = performance.now() - at;
    t.same(instancesOf(id), [upPid(dir)], 'the status names the one live instance');
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    found.note('full', impl, `supervisor alive, restart and d obeyed; svc -wu after the fault ${ms.toFixed(0)} ms`);
  });

  t.test(`${impl}: the service directory made read-only under its supervisor`, ROOT_ONLY, async (t) => {
    const { dir, id, sampler, sup, pid: first } = await oneServiceTree(t, impl, 'ro');
    // A read-only bind mount over the directory: what the supervisor opens from now on is read-only.
    execFileSync('mount', ['--bind', dir, dir]);
    let mounted = true;
    const unmount = () => {
      if (mounted) execFileSync('umount', ['-l', dir]);
      mounted = false;
    };
    t.teardown(unmount);
    execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
    process.kill(first, 'SIGKILL');
    await until(() => instancesOf(id).some((p) => p !== first), BOUND_MS, 'the service restarted on a read-only directory');
    t.ok(alive(sup), 'the supervisor lives on');
    unmount();
    const at = performance.now();
    t.equal((await tether(['svc', '-wr', '-T', String(BOUND_MS), '-r', dir], { timeout: 2 * BOUND_MS })).code, 0, 'restarted once writable again');
    const ms = performance.now() - at;
    await until(() => instancesOf(id).length === 1 && upPid(dir) === instancesOf(id)[0], BOUND_MS, 'the status in line');
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    found.note('ro', impl, `supervisor alive, restart obeyed; svc -wr after the fault ${ms.toFixed(0)} ms`);
  });
}

t.teardown(() => {
  const row = found.row.bind(found);
  recordFigures('resources', [
    row('full', 'supervise/ on a full tmpfs: the service killed, then svc -d, then room again', 'supervisor alive, commands obeyed, never two instances; svc -wu latency after'),
    row('ro', 'the service directory made read-only (a read-only bind mount over it): the service killed, then writable again', 'supervisor alive, restart obeyed, never two instances; svc -wr latency after'),
  ]);
});
