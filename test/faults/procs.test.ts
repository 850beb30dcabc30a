// Process faults, injected from outside, against tether and Debian's s6: a
// supervisor stopped (SIGSTOP) while clients send it commands, then SIGCONT;
// a service that ignores SIGTERM; a service stopped by SIGSTOP. Checked:
// nothing lost (the commands sent meanwhile take effect, never two
// instances), and each service does go down. Times are recorded, not asserted.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createServer, connect, type AddressInfo } from 'node:net';
import { BOUND_MS, TETHER, alive, bounded, exitOf, tether } from '../lib/harness';
import { FAULT_MARK, Findings, IMPLS, InstanceSampler, instancesOf, NeighbourProbe, oneServiceTree, recordFigures, until, upPid, allowFileTime } from './lib';

/** Under load this file took 115-170 s: twice that and more, before it counts as hung. */
allowFileTime(600_000);

const CLIENTS = 10;
const ORPHANS = 500;
const found = new Findings();

for (const impl of IMPLS) {
  t.test(`${impl}: a supervisor stopped while ${CLIENTS} clients send commands, then continued`, async (t) => {
    const { dir, id, sampler, sup, pid, statusReader, neighbour } = await oneServiceTree(t, impl, 'sigstop', { neighbour: true });
    const probe = await NeighbourProbe.start(t, neighbour as string);
    const reader = statusReader();
    process.kill(sup, 'SIGSTOP');
    t.teardown(() => alive(sup) && process.kill(sup, 'SIGCONT'));
    // A waiter subscribed before the commands, and the commands (o: once, then d: down).
    const listeners = () => readdirSync(join(dir, 'event')).filter((n) => n.startsWith('ftrig1:')).length;
    const waiter = spawn(process.execPath, [TETHER, 'svwait', '-D', '-t', String(3 * BOUND_MS), dir], { stdio: 'ignore' });
    // Subscribed (its FIFO in event/) before anything can happen, so that it waits for this D.
    await until(() => listeners() > 0, BOUND_MS, 'the waiter subscribed');
    // The o's at once, then the d once they are all in: parallel clients land in any order,
    // and an o after the d would start the service again.
    const ones = await Promise.all(Array.from({ length: CLIENTS - 1 }, () => tether(['svc', '-o', dir])));
    const clients = [...ones, await tether(['svc', '-d', dir])];
    t.same(clients.map((c) => c.code), Array(CLIENTS).fill(0), 'every client could send its command to the stopped supervisor');
    t.equal(upPid(dir), pid, 'nothing happened while it was stopped');
    const at = performance.now();
    process.kill(sup, 'SIGCONT');
    t.equal((await exitOf(waiter, 4 * BOUND_MS)).code, 0, 'the waiter saw the service go down');
    const ms = performance.now() - at;
    reader.stop();
    const neighbourMs = await probe.finish(t);
    t.equal(upPid(dir), 0, 'the last command (d) took effect');
    t.ok(alive(sup), 'the supervisor lives on');
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    t.equal(reader.torn, 0, `no status read torn (${reader.reads})`);
    found.note('sigstop', impl, `down ${ms.toFixed(0)} ms after SIGCONT; ${reader.torn} torn of ${reader.reads} status reads; ${neighbourMs}`);
  });

  for (const kind of ['ignores SIGTERM', 'is stopped (SIGSTOP)'] as const) {
    t.test(`${impl}: svc -d on a service that ${kind}`, async (t) => {
      const ignoring = kind === 'ignores SIGTERM';
      const { dir, id, sampler, pid } = await oneServiceTree(t, impl, `hard${kind.length}`,
        ignoring ? { prelude: "trap '' TERM\n", files: { 'timeout-kill': '500\n' } } : {});
      if (!ignoring) process.kill(pid, 'SIGSTOP');
      const at = performance.now();
      t.equal((await tether(['svc', '-wD', '-T', String(2 * BOUND_MS), '-d', dir], { timeout: 3 * BOUND_MS })).code, 0, 'svc -wD -d returned: down');
      const ms = performance.now() - at;
      t.notOk(alive(pid), 'the instance is gone');
      t.equal(upPid(dir), 0, 'the status says down');
      t.equal(sampler.maxOf(id), 1, 'never two instances');
      found.note(kind, impl, `down in ${ms.toFixed(0)} ms`);
    });
  }
}

/** A free port on 127.0.0.1 now (the OS's choice; closed again before the daemon binds it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** True if something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((res) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); res(true); });
    c.once('error', () => res(false));
  });
}

for (const impl of IMPLS) {
  t.test(`${impl}: two double-forked daemons (one holding a port) and ${ORPHANS} short-lived orphans, then svc -d`, async (t) => {
    const port = await freePort();
    const daemons = `daemons-${impl}-${process.pid}`;
    // Each daemon: a subshell that backgrounds a new session's process and exits, so the daemon is orphaned twice.
    const daemon = (what: string) => `( setsid /usr/bin/env ${FAULT_MARK}=${daemons} ${what} </dev/null >/dev/null 2>&1 & )`;
    const prelude = [
      daemon(`${process.execPath} -e "require('net').createServer().listen(${port}, '127.0.0.1')"`),
      daemon('sleep 1000000'),
      `i=0; while [ $i -lt ${ORPHANS} ]; do ( sleep 0.$((i % 5)) & ); i=$((i + 1)); done`,
      '',
    ].join('\n');
    const { dir, id, sampler } = await oneServiceTree(t, impl, 'forks', { prelude });
    const strays = new InstanceSampler(t, [daemons]);
    await until(() => instancesOf(daemons).length === 2, BOUND_MS, 'both daemons running');
    await bounded((async () => { while (!(await listening(port))) await new Promise((r) => setTimeout(r, 20)); })(), BOUND_MS, 'the daemon listening');
    // The run script forks its orphans before it execs the marked process: wait for that, or
    // svc -d could end the script first and the service would never have had its instance.
    await until(() => instancesOf(id).length === 1, 2 * BOUND_MS, 'the service past its forks');
    const at = performance.now();
    t.equal((await tether(['svc', '-wD', '-T', String(BOUND_MS), '-d', dir], { timeout: 2 * BOUND_MS })).code, 0, 'svc -wD -d returned: down');
    let closedMs = -1;
    if (impl === 'tether') {
      await bounded((async () => { while (await listening(port)) await new Promise((r) => setTimeout(r, 5)); })(), BOUND_MS, 'the port closed');
      closedMs = performance.now() - at;
      // Both were SIGKILLed together, but a kill lands asynchronously: the other may outlive the port a moment.
      await until(() => instancesOf(daemons).length === 0, BOUND_MS, 'no daemon left');
    }
    const left = instancesOf(daemons).length;
    const open = await listening(port);
    if (impl === 'tether') {
      t.equal(left, 0, 'no daemon left');
      t.notOk(open, 'the port is closed');
    }
    t.equal(sampler.maxOf(id), 1, 'never two instances of the service');
    t.ok(strays.maxOf(daemons) <= 2, 'never more than the two daemons');
    found.note('forks', impl, `${left} daemon(s) left, port ${open ? 'open' : 'closed'}${closedMs >= 0 ? ` ${closedMs.toFixed(0)} ms after svc -d` : ''}`);
  });
}

t.teardown(() => {
  const row = found.row.bind(found);
  recordFigures('procs', [
    row('sigstop', `a supervisor SIGSTOPped while ${CLIENTS} clients send commands (o, then d), then SIGCONT`, 'every command accepted, the last applied; time to down after SIGCONT; torn status reads; a healthy neighbour\'s svc -wu latency meanwhile'),
    row('ignores SIGTERM', 'svc -wD -d on a service that ignores SIGTERM (timeout-kill 500)', 'down (killed); svc -wD latency'),
    row('forks', `two double-forked daemons (setsid; one listening on 127.0.0.1) and ${ORPHANS} short-lived orphans, then svc -wD -d`, 'daemons left behind; the port closed, and how soon after svc -d'),
    row('is stopped (SIGSTOP)', 'svc -wD -d on a service stopped by SIGSTOP', 'down; svc -wD latency'),
  ]);
});
