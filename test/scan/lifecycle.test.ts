// The scanner's life: signal diversion, finish, abort, a supervisor killed by
// SIGKILL, and running as PID 1 of a PID namespace.
import t, { type Test } from 'tap';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf, procStat } from '../../src/os/proc';
import { HAVE_S6, S6_BIN, TETHER, alive, exitOf, makeService, tempDir, tether, writeScript, zombiesLeft } from '../lib/harness';
import { startScanner, statusPid, supervisorOf, waitExit, waitForLines, waitForPath } from './lib';

t.test('.s6-svscan/SIGTERM replaces the built-in action; .s6-svscan/finish runs at the end', async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  makeService(join(scandir, 'a'), 'exec sleep 1000');
  writeScript(join(scandir, '.s6-svscan', 'SIGTERM'), `#!/bin/sh\necho diverted >> ${root}/marks\n`);
  writeScript(join(scandir, '.s6-svscan', 'finish'), `#!/bin/sh\necho "finish in $(pwd)" >> ${root}/marks\nexit 7\n`);
  const sc = await startScanner(t, scandir);
  const sup = supervisorOf(sc.pid, 'a') as number;
  process.kill(sc.pid, 'SIGTERM');
  await waitForLines(join(root, 'marks'), 1, /diverted/);
  t.equal((await tether(['svscanctl', '-z', scandir])).code, 0, 'the scanner still runs after a diverted SIGTERM');
  t.ok(alive(sup), 'and so does the supervisor');
  const ex = await sc.stop();
  t.equal(ex.code, 7, 'the scanner exits with the status of .s6-svscan/finish');
  t.match(readFileSync(join(root, 'marks'), 'utf8'), new RegExp(`finish in ${scandir}\\n`), 'finish ran in the scan directory');
  t.notOk(alive(sup));
});

t.test('SIGINT and SIGQUIT without a diversion shut down; b aborts leaving supervisors running', async (t) => {
  for (const sig of ['SIGINT', 'SIGQUIT'] as const) {
    const scandir = join(tempDir(t), 'scan');
    makeService(join(scandir, 'a'), 'exec sleep 1000');
    const sc = await startScanner(t, scandir);
    const sup = supervisorOf(sc.pid, 'a') as number;
    t.equal((await tether(['svwait', '-u', '-t', '30000', join(scandir, 'a')])).code, 0);
    const svc = statusPid(join(scandir, 'a'));
    t.ok(alive(svc), `${sig}: the service runs`);
    process.kill(sc.pid, sig);
    t.equal((await exitOf(sc.child)).code, 0, `${sig}: exit 0`);
    t.notOk(alive(sup), `${sig}: supervisor gone`);
    t.notOk(alive(svc), `${sig}: service gone`);
  }
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'a'), 'exec sleep 1000');
  const sc = await startScanner(t, scandir);
  const sup = supervisorOf(sc.pid, 'a') as number;
  await tether(['svscanctl', '-b', scandir]);
  t.equal((await exitOf(sc.child)).code, 0, 'b: the scanner leaves at once');
  t.ok(alive(sup), 'b: the supervisor was not touched');
  process.kill(sup, 'SIGTERM'); // its service goes down with it
  await waitExit(t, sup);
});

t.test('a fatal internal error runs .s6-svscan/crash, which the tree outlives; with no crash program, 111', async (t) => {
  // The fault is injected from outside the product: a preloaded module that
  // throws in the scanner on SIGUSR2 (which the scanner itself leaves alone),
  // and takes itself out of the environment so supervisors do not load it.
  const root = tempDir(t);
  const inject = join(root, 'fault.cjs');
  writeFileSync(inject, `delete process.env.NODE_OPTIONS;
process.on('SIGUSR2', () => { throw new Error('injected fault'); });\n`);
  const env = { ...process.env, NODE_OPTIONS: `--require ${inject}` };
  for (const withCrash of [true, false]) {
    const scandir = join(root, `scan-${withCrash}`);
    makeService(join(scandir, 'a'), 'exec sleep 1000');
    if (withCrash) writeScript(join(scandir, '.s6-svscan', 'crash'), `#!/bin/sh\necho "crash in $(pwd)" >> ${root}/marks\nexit 42\n`);
    const sc = await startScanner(t, scandir, { env });
    const sup = supervisorOf(sc.pid, 'a') as number;
    t.equal((await tether(['svwait', '-u', '-t', '30000', join(scandir, 'a')])).code, 0);
    process.kill(sc.pid, 'SIGUSR2');
    const ex = await exitOf(sc.child);
    t.match(sc.output().stderr, /tether svscan: fatal: Error: injected fault/, 'the error is reported');
    if (withCrash) {
      t.equal(ex.code, 42, 'the scanner exits with the status of .s6-svscan/crash');
      t.match(readFileSync(join(root, 'marks'), 'utf8'), `crash in ${scandir}\n`, 'crash ran in the scan directory');
    } else {
      t.equal(ex.code, 111, 'no crash program: 111, as s6-svscan 2.11');
    }
    t.ok(alive(sup), 'the supervisor outlives the scanner');
    t.equal((await tether(['svok', join(scandir, 'a')])).code, 0, 'and still supervises');
    process.kill(sup, 'SIGTERM');
    await waitExit(t, sup);
  }
});

/** The pid of host process `pid` in its own (innermost) pid namespace. */
function nsPidOf(pid: number): number | undefined {
  try {
    const m = /^NSpid:(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1].trim().split(/\s+/).pop()) : undefined;
  } catch {
    return undefined;
  }
}

/** A run script that logs its starts and its SIGTERM to `events`. */
function recorder(events: string, ignoreTerm: boolean): string {
  return ignoreTerm
    ? `#!/bin/sh\necho "start $$" >> ${events}\ntrap '' TERM\nexec sleep 1000\n`
    : `#!/bin/sh\necho "start $$" >> ${events}\ntrap 'echo "term $$" >> ${events}; kill -KILL $!; exit 0' TERM\nsleep 1000 &\nwait\n`;
}

for (const ignoreTerm of [false, true]) {
  t.test(`a supervisor killed by SIGKILL: its service is stopped${ignoreTerm ? ' (by SIGKILL after timeout-kill)' : ''} and started again exactly once`, async (t) => {
    const root = tempDir(t);
    const scandir = join(root, 'scan');
    const events = join(root, 'events');
    const dir = makeService(join(scandir, 'svc'), recorder(events, ignoreTerm), ignoreTerm ? { 'timeout-kill': '500\n' } : {});
    const sc = await startScanner(t, scandir);
    const [firstLine] = await waitForLines(events, 1, /^start/);
    const first = Number(firstLine.split(' ')[1]);
    await tether(['svwait', '-u', '-t', '30000', dir]);
    const sup = supervisorOf(sc.pid, 'svc') as number;
    process.kill(sup, 'SIGKILL');
    await waitExit(t, sup);
    await waitForLines(events, 2, /^start/);
    t.notOk(alive(first), 'the orphaned instance is gone');
    const lines = readFileSync(events, 'utf8').trim().split('\n');
    const second = Number(lines[lines.length - 1].split(' ')[1]);
    t.not(second, first);
    t.same(lines, ignoreTerm ? [`start ${first}`, `start ${second}`] : [`start ${first}`, `term ${first}`, `start ${second}`],
      'the old instance was stopped before the new one started');
    t.match(sc.output().stderr, new RegExp(`stopping pid ${first}`));
    t.ok(supervisorOf(sc.pid, 'svc'), 'a new supervisor runs');
    t.same(await zombiesLeft(sc.pid), [], 'nothing left unreaped');
    t.equal((await sc.stop()).code, 0);
    const after = readFileSync(events, 'utf8').trim().split('\n').filter((l) => l.startsWith('start'));
    t.equal(after.length, 2, 'exactly one restart');
    t.notOk(alive(second));
  });
}

t.test('PID 1 under unshare: orphans are reaped, SIGTERM brings everything down', { skip: process.getuid?.() !== 0 && 'needs root for unshare --pid' }, async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  makeService(join(scandir, 'svc'), 'exec sleep 1000');
  makeService(join(scandir, 'svc', 'log'), `exec ${process.execPath} ${TETHER} log ./main`);
  // SIGUSR1 is diverted to a program that leaves two orphans behind.
  writeScript(join(scandir, '.s6-svscan', 'SIGUSR1'), `#!/bin/sh\nsleep 1001 & a=$!\nsleep 1002 & b=$!\necho $$ $a $b > ${root}/spawner.tmp\nmv ${root}/spawner.tmp ${root}/spawner\n`);
  const sc = await startScanner(t, scandir, { prefix: ['unshare', '--pid', '--fork', '--mount-proc', process.execPath, TETHER] });
  const [scanner] = childrenOf(sc.pid);
  t.match(readFileSync(`/proc/${scanner}/status`, 'latin1'), /^NSpid:\s+\d+\s+1$/m, 'the scanner is PID 1 in its namespace');
  await waitForPath(join(scandir, 'svc', 'log', 'main', 'current'));

  process.kill(scanner, 'SIGUSR1');
  await waitForPath(join(root, 'spawner'));
  // Pids as the namespace numbers them; an orphan may not have exec'd sleep yet, so go by pid.
  const [spawnerNs, ...orphansNs] = readFileSync(join(root, 'spawner'), 'utf8').trim().split(' ').map(Number);
  const spawner = childrenOf(scanner).find((p) => nsPidOf(p) === spawnerNs);
  if (spawner) await waitExit(t, spawner);
  const orphans = childrenOf(scanner).filter((p) => orphansNs.includes(nsPidOf(p) ?? 0));
  t.equal(orphans.length, 2, 'both orphans were re-parented to the scanner');
  for (const p of orphans) process.kill(p, 'SIGKILL');
  for (const p of orphans) await waitExit(t, p);
  await tether(['svscanctl', '-z', scandir]); // a round trip: the scanner has handled their SIGCHLD
  for (const p of orphans) t.equal(procStat(p), null, `orphan ${p} was reaped`);
  t.same(await zombiesLeft(scanner), [], 'no zombie in the namespace');

  const everything = [scanner, ...childrenOf(scanner).flatMap((p) => [p, ...childrenOf(p)])];
  t.ok(everything.length >= 5, `scanner, 2 supervisors, service, logger (${everything.length})`);
  process.kill(scanner, 'SIGTERM');
  const ex = await exitOf(sc.child);
  t.equal(ex.code, 0, 'unshare exits 0 after the scanner stopped everything');
  for (const p of everything) t.notOk(alive(p), `pid ${p} is gone`);
});

// s6-supervise is no subreaper: what a service leaves behind lands on the
// scanner directly. tether supervise adopts it first and hands it on when it exits.
const KINDS = [
  { name: 'tether supervise', args: [] as string[] },
  ...(HAVE_S6 ? [{ name: 's6-supervise', args: ['--supervisor', join(S6_BIN, 's6-supervise')] }] : []),
];
for (const kind of KINDS) {
  t.test(`${kind.name}: at shutdown, processes a service left behind are stopped too`, async (t) => {
    const root = tempDir(t);
    const scandir = join(root, 'scan');
    const marks = join(root, 'marks');
    makeService(join(scandir, 'leaky'), `#!/bin/sh
sh -c 'trap "echo stray-term >> ${marks}; exit 0" TERM; echo "stray $$" >> ${marks}; while :; do sleep 0.1; done' &
exec sleep 1000
`);
    const sc = await startScanner(t, scandir, { args: kind.args });
    const [line] = await waitForLines(marks, 1, /^stray \d+$/);
    const stray = Number(line.split(' ')[1]);
    t.ok(alive(stray));
    t.equal((await sc.stop()).code, 0, 'the scanner exits 0');
    t.notOk(alive(stray), 'the left-behind process is gone');
    t.match(readFileSync(marks, 'utf8'), /stray-term/, 'it was asked to stop with SIGTERM first');
  });
}

/** `a` with a logger that never exits by itself (it does not read its stdin): what stops it is a signal. */
async function serviceWithDeafLogger(t: Test) {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  makeService(join(scandir, 'a'), 'exec sleep 1000');
  makeService(join(scandir, 'a', 'log'), 'exec sleep 1000');
  const sc = await startScanner(t, scandir);
  for (const dir of [join(scandir, 'a'), join(scandir, 'a', 'log')]) {
    t.equal((await tether(['svwait', '-u', '-t', '30000', dir])).code, 0, `${dir} is up`);
  }
  const sup = supervisorOf(sc.pid, 'a') as number;
  const logSup = supervisorOf(sc.pid, join('a', 'log')) as number;
  t.ok(sup && logSup, 'a supervisor each for the service and its logger');
  return { root, scandir, sc, sup, logSup, logger: statusPid(join(scandir, 'a', 'log')) };
}

for (const flag of ['-n', '-N'] as const) {
  t.test(`svscanctl ${flag}: the supervisor of an inactive service gets SIGTERM, its logger's ${flag === '-n' ? 'SIGHUP' : 'SIGTERM'}`, async (t) => {
    const { root, scandir, sup, logSup, logger } = await serviceWithDeafLogger(t);
    renameSync(join(scandir, 'a'), join(root, 'removed'));
    await tether(['svscanctl', '-a', scandir]);
    t.equal((await tether(['svscanctl', flag, scandir])).code, 0);
    await waitExit(t, sup);
    if (flag === '-N') {
      await waitExit(t, logSup);
      t.notOk(alive(logger), '-N: the logger was stopped with its supervisor');
      return;
    }
    // SIGHUP: the logger's supervisor exits once its logger does, and never brings it down itself.
    t.ok(alive(logger), '-n: the logger still runs after its producer is gone');
    t.ok(alive(logSup), '-n: so does its supervisor');
    process.kill(logger, 'SIGKILL');
    await waitExit(t, logSup);
    t.notOk(alive(logSup), '-n: once the logger died, its supervisor exited instead of restarting it');
  });
}

t.test('svscanctl -t leaves loggers to drain; -q then stops them and the scanner exits 0', async (t) => {
  const { sc, sup, logSup, logger } = await serviceWithDeafLogger(t);
  t.equal((await tether(['svscanctl', '-t', sc.scandir])).code, 0);
  await waitExit(t, sup);
  t.ok(alive(logger), '-t: a logger that has not reached EOF is not stopped');
  t.ok(alive(logSup) && sc.child.exitCode === null, '-t: its supervisor and the scanner wait for it');
  t.equal((await tether(['svscanctl', '-q', sc.scandir])).code, 0);
  t.equal((await exitOf(sc.child)).code, 0, '-q: the scanner exits 0');
  t.notOk(alive(logSup), '-q: the logger supervisor is gone');
  t.notOk(alive(logger), '-q: and so is the logger');
});
