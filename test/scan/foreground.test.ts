// A scanner as a person at a terminal runs it (issue 14, "first hour"):
// services never get the scanner's stdin, the terminal's hangup stops the
// tree in order (a plain SIGHUP still rescans), a terminal that stops reading
// blocks the writers but not the scanner, Ctrl-C gives each service a
// grace period and a second Ctrl-C ends everything at once, a second scanner
// names the first, --watch stops removed services, and a run that cannot
// start shows in `tether status`.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, renameSync, watch, writeFileSync } from 'node:fs';
import { readRestarts } from '../../src/wire/restarts';
import { join } from 'node:path';
import { childrenOf } from '../../src/os/proc';
import { mkfifo } from '../../src/os/native';
import { BOUND_MS, HAVE_S6, ROOT, S6_BIN, TETHER, alive, bounded, exitOf, makeService, run, tempDir, tether, waitForOutput } from '../lib/harness';
import { waitForProc } from '../supervise/lib';
import { startScanner, statusPid, waitExit, waitForPath, waitUp } from './lib';

const SHARED = process.env.TETHER_MODE === 'shared';
const MODE = SHARED ? ['--shared'] : [];

function fd0(pid: number): string {
  return readlinkSync(`/proc/${pid}/fd/0`);
}

/** Kills at teardown whatever of `pids` is still alive: the test's own processes, by pid. */
function killLeft(t: Test, pids: () => number[]): void {
  t.teardown(() => {
    for (const pid of pids()) {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
}

interface Row {
  name: string;
  state: string;
  reason: string | null;
  restarts: number | null;
  last: string | null;
}

async function statusRows(dir: string): Promise<Row[]> {
  const r = await tether(['status', '--json', dir]);
  return JSON.parse(r.stdout) as Row[];
}

/** Waits until `tether status` shows `state` for DIR, rechecking whenever its supervise/ changes. */
async function waitForState(dir: string, state: string): Promise<Row> {
  const sup = join(dir, 'supervise');
  await waitForPath(join(sup, 'status'));
  return bounded(new Promise<Row>((res) => {
    let busy = false;
    let again = false;
    const check = async () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      const row = (await statusRows(dir))[0];
      busy = false;
      if (row?.state === state) {
        w.close();
        res(row);
      } else if (again) {
        again = false;
        void check();
      }
    };
    const w = watch(sup, () => void check());
    void check();
  }), BOUND_MS, `state ${state} for ${dir}`);
}

t.test('services get /dev/null as stdin and loggers their pipe, whatever the scanner was given', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'plain'), 'exec sleep 1000');
  makeService(join(scandir, 'logged'), 'exec sleep 1000', { 'log/run': '#!/bin/sh\nexec cat > /dev/null\n' });
  const sc = await startScanner(t, scandir, { stdin: 'pipe' });
  for (const name of ['plain', 'logged', 'logged/log']) await waitUp(join(scandir, name));
  t.equal(fd0(statusPid(join(scandir, 'plain'))), '/dev/null', 'a service without a logger reads /dev/null');
  t.equal(fd0(statusPid(join(scandir, 'logged'))), '/dev/null', 'a logged service reads /dev/null');
  const loggerIn = fd0(statusPid(join(scandir, 'logged', 'log')));
  t.match(loggerIn, /^pipe:/, 'its logger reads its pipe');
  // Per-process mode: each supervisor reads /dev/null, or the logger's pipe.
  for (const sup of childrenOf(sc.pid)) t.ok(['/dev/null', loggerIn].includes(fd0(sup)), `supervisor ${sup}'s stdin is /dev/null or the log pipe`);
  t.equal((await sc.stop()).code, 0);
});

/** Runs `tether svscan ARGS` on a new pseudo-terminal (test/scan/pty.py). */
function onTerminal(t: Test, args: string[]): { child: ChildProcess; scanner: Promise<number>; send(line: string): void; ended: Promise<string> } {
  const child = spawn('python3', [join(ROOT, 'test', 'scan', 'pty.py'), process.execPath, TETHER, 'svscan', ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const scanner = waitForOutput(child, /^pid [0-9]+$/).then((l) => Number(l.slice(4)));
  const ended = waitForOutput(child, /^(exit|signal) /, BOUND_MS * 2);
  return { child, scanner, ended, send: (line) => child.stdin?.write(`${line}\n`) };
}

t.test('at a terminal: SIGHUP still rescans; the terminal hanging up stops the tree in order', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'a'), 'echo "a says hello" >&2\nexec sleep 1000');
  // A Node service, the kind that crashed in Node's exit path on a dead terminal.
  makeService(join(scandir, 'n'), `exec ${process.execPath} -e "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)"`, {
    'log/run': '#!/bin/sh\nexec cat > /dev/null\n',
  });
  const term = onTerminal(t, [...MODE, scandir]);
  const hello = waitForOutput(term.child, /^tty: a says hello$/);
  const scanner = await term.scanner;
  const services = ['a', 'n', 'n/log'];
  for (const name of services) await waitUp(join(scandir, name));
  const pids = services.map((name) => statusPid(join(scandir, name)));
  const supervisors = childrenOf(scanner);
  killLeft(t, () => [...pids, ...supervisors, scanner]);
  t.equal(fd0(pids[0]), '/dev/null', 'the service reads /dev/null, not the terminal');
  await hello;
  t.pass("the service's stderr reaches the terminal (through the scanner's relay)");
  t.match(readlinkSync(`/proc/${pids[0]}/fd/2`), /^pipe:/, 'but its stderr is no terminal');

  // A SIGHUP while the terminal lives is s6's: rescan (and prune).
  makeService(join(scandir, 'late'), 'exec sleep 1000');
  term.send('hup');
  await waitUp(join(scandir, 'late'));
  const late = statusPid(join(scandir, 'late'));
  pids.push(late);
  t.ok(alive(scanner), 'the scanner runs on after a SIGHUP');
  t.ok(pids.every(alive), 'and so does every service');

  term.send('close');
  t.equal(await term.ended, 'exit 0', 'the scanner stopped the tree and exited 0 when its terminal went away');
  for (const pid of [...pids, ...supervisors]) t.notOk(alive(pid), `pid ${pid} is gone`);
  const n = (await statusRows(join(scandir, 'n')))[0];
  t.equal(n.state, 'not supervised', 'the Node service ended with its supervisor');
  t.equal(n.last, 'exit 0', 'on its SIGTERM handler, not in a crash of Node\'s exit path on the dead terminal');
});

/** True if a child of `pid` sleeps in a write to a full pipe (pipe_write, anon_pipe_write since Linux 6.x; pipe_wait before 5.5). */
function childBlockedOnPipe(pid: number): boolean {
  return childrenOf(pid).some((c) => {
    try {
      return /^(anon_)?pipe_w(rite|ait)$/.test(readFileSync(`/proc/${c}/wchan`, 'latin1'));
    } catch {
      return false;
    }
  });
}

t.test('a terminal that stops reading (Ctrl-S) blocks the writers, not the scanner', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  // Once its gate opens, one line of 1 MB: more than the relay's pipe and the terminal hold.
  const burst = makeService(join(scandir, 'burst'), 'read x < gate\nhead -c 1000000 /dev/zero | tr "\\0" x\necho\necho burst done\nexec sleep 1000');
  mkfifo(join(burst, 'gate'), 0o600);
  const term = onTerminal(t, [...MODE, scandir]);
  const scanner = await term.scanner;
  await waitUp(burst);
  const shell = statusPid(burst);
  const supervisors = childrenOf(scanner);
  killLeft(t, () => [scanner, ...supervisors, ...childrenOf(shell)]);
  term.send('stop');
  await run('sh', ['-c', 'echo go > gate'], { cwd: burst });
  await waitForProc(() => childBlockedOnPipe(shell), 'the burst to fill the pipe the terminal no longer drains');

  makeService(join(scandir, 'late'), 'exec sleep 1000');
  t.equal((await tether(['svscanctl', '-a', scandir])).code, 0);
  await waitUp(join(scandir, 'late'));
  t.pass('the scanner started a new service while its terminal read nothing');
  const late = statusPid(join(scandir, 'late'));
  killLeft(t, () => [late]);

  const done = waitForOutput(term.child, /^tty: burst done$/);
  term.send('go');
  await done;
  t.pass('the whole burst reached the terminal once it read again');
  term.send('close');
  t.equal(await term.ended, 'exit 0', 'the hangup still stops the tree, and the scanner exits 0');
  for (const pid of [late, ...supervisors]) t.notOk(alive(pid), `pid ${pid} is gone (a supervisor, the relay, a service)`);
});

t.test('Ctrl-C: a service that ignores SIGTERM is killed after -K, and named', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'stubborn'), "trap '' TERM\nexec sleep 1000");
  makeService(join(scandir, 'quick'), 'exec sleep 1000');
  const sc = await startScanner(t, scandir, { args: ['-K', '1500'] });
  await waitUp(join(scandir, 'stubborn'));
  await waitUp(join(scandir, 'quick'));
  const pid = statusPid(join(scandir, 'stubborn'));
  killLeft(t, () => [pid]);
  process.kill(sc.pid, 'SIGINT');
  const ex = await exitOf(sc.child);
  t.equal(ex.code, 0, 'the tree ended, exit 0');
  t.notOk(alive(pid), 'the stubborn service is gone');
  const lines = sc.output().stderr.split('\n').filter((l) => /did not stop/.test(l));
  t.equal(lines.length, 1, 'one line about it');
  t.match(lines[0], /stubborn did not stop within 1500 ms \(svscan -K\): killed pid [0-9]+/, 'naming the service and the grace');
});

t.test("a service's timeout-kill replaces -K", async (t) => {
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'stubborn'), "trap '' TERM\nexec sleep 1000", { 'timeout-kill': '1000\n' });
  // -K longer than the test's bound: only timeout-kill can end this tree in time.
  const sc = await startScanner(t, scandir, { args: ['-K', String(BOUND_MS * 4)] });
  await waitUp(join(scandir, 'stubborn'));
  const pid = statusPid(join(scandir, 'stubborn'));
  killLeft(t, () => [pid]);
  process.kill(sc.pid, 'SIGINT');
  t.equal((await exitOf(sc.child)).code, 0, 'the tree ended within its timeout-kill');
  t.notOk(alive(pid));
});

t.test('it shows stopping meanwhile; a second Ctrl-C kills what is left and exits at once', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'stubborn'), "trap '' TERM\nexec sleep 1000", { 'log/run': "#!/bin/sh\ntrap '' HUP TERM\nexec cat > /dev/null\n" });
  const sc = await startScanner(t, scandir, { args: ['-K', String(BOUND_MS * 4)] });
  await waitUp(join(scandir, 'stubborn'));
  await waitUp(join(scandir, 'stubborn', 'log'));
  const pids = [statusPid(join(scandir, 'stubborn')), statusPid(join(scandir, 'stubborn', 'log'))];
  const supervisors = childrenOf(sc.pid);
  killLeft(t, () => [...pids, ...supervisors]);
  // npm forwards each Ctrl-C to its script, which has it from the terminal
  // already: a SIGINT within a second of the first is the same one.
  process.kill(sc.pid, 'SIGINT');
  process.kill(sc.pid, 'SIGINT');
  const row = await waitForState(join(scandir, 'stubborn'), 'stopping');
  t.equal(row.state, 'stopping', 'tether status shows the service as stopping, not up');
  t.ok(alive(sc.pid) && alive(pids[0]), 'a SIGINT right after the first is taken as the same Ctrl-C');
  // The next one comes a second later at least, however slow the machine (this is no bound).
  await new Promise((res) => setTimeout(res, 1200));
  t.ok(alive(pids[0]), 'the service still runs: the grace is far from over');
  process.kill(sc.pid, 'SIGINT');
  const ex = await exitOf(sc.child);
  t.equal(ex.code, 0, 'the scanner left at once (its -K is longer than this wait)');
  t.match(sc.output().stderr, /a second interrupt: killing stubborn, stubborn\/log and exiting/);
  for (const pid of pids) await waitExit(t, pid);
  for (const pid of [...pids, ...supervisors]) t.notOk(alive(pid), `pid ${pid} is gone`);
});

t.test('a second scanner names the first one and how to stop it; exit 100', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  mkdirSync(scandir);
  const sc = await startScanner(t, scandir);
  const r = await tether(['svscan', ...MODE, scandir]);
  t.equal(r.code, 100);
  t.equal(r.stderr, `tether svscan: fatal: another svscan (pid ${sc.pid}) is running on ${scandir}: stop it with tether svscanctl -t ${scandir}\n`);
  t.equal((await sc.stop()).code, 0);
});

t.test("a second scanner names s6-svscan's pid too", { skip: HAVE_S6 ? false : 'Debian s6 not installed' }, async (t) => {
  const scandir = join(tempDir(t), 'scan');
  mkdirSync(scandir);
  const s6 = spawn(join(S6_BIN, 's6-svscan'), ['-d', '3', scandir], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  t.teardown(async () => {
    if (s6.exitCode === null && s6.signalCode === null) {
      s6.kill('SIGTERM');
      await exitOf(s6);
    }
  });
  await bounded(new Promise((res) => (s6.stdio[3] as NodeJS.ReadableStream).once('data', res)), BOUND_MS, 's6-svscan readiness');
  const r = await tether(['svscan', ...MODE, scandir]);
  t.equal(r.code, 100);
  t.match(r.stderr, `another svscan (pid ${s6.pid}) is running on ${scandir}`);
});

t.test('--watch stops the services of a directory moved out of the tree, loggers drained', async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  makeService(join(scandir, 'stays'), 'exec sleep 1000');
  makeService(join(scandir, 'goes'), 'exec sleep 1000', { 'log/run': '#!/bin/sh\nexec cat > /dev/null\n' });
  const sc = await startScanner(t, scandir, { args: ['--watch'] });
  for (const name of ['stays', 'goes', 'goes/log']) await waitUp(join(scandir, name));
  const stays = statusPid(join(scandir, 'stays'));
  const goes = [statusPid(join(scandir, 'goes')), statusPid(join(scandir, 'goes', 'log'))];
  killLeft(t, () => goes);
  renameSync(join(scandir, 'goes'), join(root, 'goes'));
  for (const pid of goes) await waitExit(t, pid);
  t.pass('the removed service and its logger were stopped');
  t.ok(alive(stays), 'the other service runs on');
  const rows = await statusRows(join(root, 'goes'));
  t.same(rows.map((r) => r.state), ['not supervised', 'not supervised'], 'their supervisors are gone too');
  t.equal((await sc.stop()).code, 0);
});

/** Waits until supervise/restarts says `n`, rechecking whenever supervise/ changes. */
async function waitForRestarts(dir: string, n: number): Promise<void> {
  const sup = join(dir, 'supervise');
  await waitForPath(sup);
  await bounded(new Promise<void>((res) => {
    const check = () => {
      if (readRestarts(dir) !== n) return;
      w.close();
      res();
    };
    const w = watch(sup, check);
    check();
  }), BOUND_MS, `${n} restarts of ${dir}`);
}

t.test('restarts are counted since the tree started, across supervisor restarts, and shown by status', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  const dir = makeService(join(scandir, 'r'), 'exec sleep 1000');
  // A count left by an earlier tree is not this tree's.
  mkdirSync(join(dir, 'supervise'));
  writeFileSync(join(dir, 'supervise', 'restarts'), '41\n');
  const sc = await startScanner(t, scandir);
  await waitUp(dir);
  await waitForRestarts(dir, 0);
  t.pass('the first start is no restart; the old count is gone');
  for (const n of [1, 2]) {
    t.equal((await tether(['svc', '-wu', '-T', String(BOUND_MS), '-k', dir])).code, 0);
    await waitForRestarts(dir, n);
    t.pass(`restart ${n} counted`);
  }
  if (!SHARED) {
    // Its supervisor dies: the scanner stops the orphan and starts a new supervisor, whose death tally starts afresh.
    const sup = childrenOf(sc.pid)[0];
    process.kill(sup, 'SIGKILL');
    await waitForRestarts(dir, 3);
    await waitUp(dir);
    t.pass('the start under a new supervisor counts too');
  }
  const want = SHARED ? 2 : 3;
  const row = (await statusRows(dir))[0];
  t.equal(row.restarts, want, `status --json: restarts ${want}`);
  const table = (await tether(['status', dir])).stdout.split('\n');
  t.match(table[0], /READY\s+RESTARTS\s+TALLY/);
  t.match(table[1], new RegExp(`^r\\s+up\\s+\\d+\\s+\\S+\\s+-\\s+${want}\\s`), 'the table shows it');
  t.equal((await sc.stop()).code, 0);
  const again = await startScanner(t, scandir);
  await waitUp(dir);
  await waitForRestarts(dir, 0);
  t.pass('a new tree counts from zero');
  t.equal((await again.stop()).code, 0);
});

t.test('a run that cannot start shows in tether status, with the reason', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  mkdirSync(join(scandir, 'norun'), { recursive: true });
  makeService(join(scandir, 'noexec'), 'exec sleep 1000');
  makeService(join(scandir, 'badshebang'), '#!/no/such/shell\nexec sleep 1000\n');
  const { chmodSync } = await import('node:fs');
  chmodSync(join(scandir, 'noexec', 'run'), 0o644);
  const sc = await startScanner(t, scandir);
  const want: Record<string, string> = { norun: 'run missing', noexec: 'run not executable', badshebang: 'bad interpreter: /no/such/shell' };
  for (const name of Object.keys(want)) await waitForState(join(scandir, name), 'failed to start');
  const rows = await statusRows(scandir);
  for (const [name, reason] of Object.entries(want)) {
    const row = rows.find((r) => r.name === name);
    t.equal(row?.state, 'failed to start', `${name}: failed to start`);
    t.equal(row?.reason, reason, `${name}: ${reason}`);
  }
  const table = (await tether(['status', scandir])).stdout;
  t.match(table, /badshebang\s+failed to start \(bad interpreter: \/no\/such\/shell\)/, 'the table gives the reason too');
  t.equal((await sc.stop()).code, 0);
});
