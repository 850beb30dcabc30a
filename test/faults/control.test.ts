// Hostile input on supervise/control: a megabyte of garbage (bytes that are
// no command), then a burst of 10 000 commands (9 999 `u` to a service that
// is up, then `d`), against tether and Debian's s6-supervise. Checked from
// outside: the supervisor lives on, the last command takes effect, never two
// instances, and thousands of status reads meanwhile, none torn.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, alive, tether } from '../lib/harness';
import { IMPLS, instancesOf, NeighbourProbe, oneServiceTree, recordFigures, until, upPid, writeAllToFifo, type Figure, type Impl } from './lib';

const figures = new Map<Impl, string>();

for (const impl of IMPLS) {
  t.test(`${impl}: a megabyte of garbage on control, then 10 000 commands`, async (t) => {
    const { dir, id, sampler, sup, pid, statusReader, neighbour } = await oneServiceTree(t, impl, 'control', { neighbour: true });
    const probe = await NeighbourProbe.start(t, neighbour as string);
    const reader = statusReader();
    // High bytes only: no s6 or tether command among them.
    const garbage = Buffer.from(randomBytes(1 << 20).map((b) => b | 0x80));
    const commands = Buffer.concat([Buffer.alloc(9999, 'u'), Buffer.from('d')]);
    const at = performance.now();
    await writeAllToFifo(join(dir, 'supervise', 'control'), Buffer.concat([garbage, commands]));
    const written = performance.now();
    const r = await tether(['svwait', '-D', '-t', String(4 * BOUND_MS), dir], { timeout: 5 * BOUND_MS });
    // The fault ends with the last byte written; recovered once down and the status says so.
    await until(() => upPid(dir) === 0 && instancesOf(id).length === 0, BOUND_MS, 'down, and the status says so');
    const ms = performance.now() - at;
    const recovery = performance.now() - written;
    reader.stop();
    const neighbourMs = await probe.finish(t);
    t.equal(r.code, 0, 'the final d took effect: the service is down');
    t.ok(alive(sup), 'the supervisor lives on');
    t.equal(upPid(dir), 0, 'the status says down');
    t.notOk(alive(pid), 'the instance is gone');
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    t.ok(reader.reads > 200, `${reader.reads} status reads`);
    t.equal(reader.torn, 0, 'no status read torn');
    figures.set(impl, `supervisor alive, down; ${ms.toFixed(0)} ms to down, ${recovery.toFixed(0)} ms after the last byte; ${reader.torn} torn of ${reader.reads} status reads; ${neighbourMs}`);
  });
}

t.teardown(() => {
  const row: Figure = {
    scenario: '1 MiB of garbage on supervise/control, then 10 000 commands (9 999 u, then d)',
    check: 'supervisor alive, final command applied; time to down (from the first byte, and recovery from the last); torn status reads; a healthy neighbour\'s svc -wu latency meanwhile',
    tether: figures.get('tether') ?? 'not run',
    s6: figures.get('s6') ?? null,
  };
  recordFigures('control', [row]);
});
