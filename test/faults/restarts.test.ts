// Many restarts of one service, against tether and Debian's s6: the test
// sends `o` (start once) on supervise/control and waits, through a FIFO of
// its own in event/, for the `D` that ends the run, again and again. `o` on
// a service that is down starts it at once (no throttle), so the figure is
// the supervisor's own cost per restart. Checked: never two instances, the
// supervisor's fds do not grow, and its memory (RSS and private, from
// /proc) grows by less than a generous bound after the warm-up; the growth
// is reported.
import t from 'tap';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, alive } from '../lib/harness';
import { allowFileTime, EventTap, FAULT_MARK, Findings, IMPLS, memoryKiB, oneServiceTree, recordFigures, settledFds, until, upPid } from './lib';

/** Scaled down from the 10 000 to keep the suite within CI's budget (FAULTS_RESTARTS overrides). */
const RESTARTS = Number(process.env.FAULTS_RESTARTS ?? 1000);
/** Restarts before the baseline: Node's JIT and heap settle first. */
const WARMUP = Math.floor(RESTARTS / 10);
/** Generous: a leak of 1 KiB a restart over 10 000 restarts would pass it, 4 KiB would not. */
const GROWTH_BOUND_KIB = 10 * 1024;
const found = new Findings();

// A restart took up to 150 ms under load (tap's 300 s per file ended this file there): 250 ms a
// restart per implementation, and 2 minutes for the rest, before it counts as hung.
allowFileTime(Math.max(300_000, IMPLS.length * RESTARTS * 250 + 120_000));

for (const impl of IMPLS) {
  t.test(`${impl}: ${RESTARTS} restarts, watching the supervisor's memory and fds`, async (t) => {
    const { dir, id, sampler, tree } = await oneServiceTree(t, impl, 'restarts', {
      files: { down: '' }, up: false, run: (mark) => `#!/bin/sh\nexec /usr/bin/env ${FAULT_MARK}=${mark} true\n`,
    });
    const sup = tree.supervisor('svc') ?? tree.pid;
    await until(() => upPid(dir) === 0, BOUND_MS, 'the supervisor to write a down status');
    const tap = new EventTap(t, dir);
    const control = openSync(join(dir, 'supervise', 'control'), constants.O_WRONLY | constants.O_NONBLOCK);
    t.teardown(() => closeSync(control));
    let base = memoryKiB(sup);
    let baseFds = await settledFds(sup, 200);
    const at = performance.now();
    for (let i = 0; i < RESTARTS; i++) {
      if (i === WARMUP) {
        base = memoryKiB(sup);
        baseFds = await settledFds(sup, 200);
      }
      writeSync(control, 'o');
      await tap.waitFor('D');
    }
    const perRestart = (performance.now() - at) / RESTARTS;
    const end = memoryKiB(sup);
    const fds = await settledFds(sup, BOUND_MS, baseFds + 2);
    t.ok(alive(sup), 'the supervisor lives on');
    t.equal(upPid(dir), 0, 'down after the last run');
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    t.ok(fds <= baseFds + 2, `fds ${baseFds} after the warm-up, ${fds} at the end`);
    const rss = end.rss - base.rss;
    const priv = end.priv - base.priv;
    t.ok(rss < GROWTH_BOUND_KIB, `RSS grew by ${rss} KiB over ${RESTARTS - WARMUP} restarts (bound ${GROWTH_BOUND_KIB} KiB)`);
    t.ok(priv < GROWTH_BOUND_KIB, `private memory grew by ${priv} KiB (bound ${GROWTH_BOUND_KIB} KiB)`);
    found.note('restarts', impl, `RSS ${(end.rss / 1024).toFixed(1)} MiB, ${rss >= 0 ? '+' : ''}${rss} KiB; private ${priv >= 0 ? '+' : ''}${priv} KiB; fds ${baseFds} → ${fds}; ${perRestart.toFixed(1)} ms a restart`);
  });
}

t.teardown(() => recordFigures('restarts', [
  found.row('restarts', `${RESTARTS} restarts (o, then the run exits), scaled down from 10 000`, `supervisor memory growth after ${WARMUP} restarts of warm-up (bound ${GROWTH_BOUND_KIB / 1024} MiB), fds, time a restart`),
]));
