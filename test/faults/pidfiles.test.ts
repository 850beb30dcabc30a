// Hostile pid files, against tether's `pidfile` extension (Debian's s6 2.11
// has no pid file support, so these scenarios are tether's alone): the pid
// file names pid 1, a foreign live process, a pid reused by a foreign process
// after the daemon died (ns_last_pid in a pid namespace the test owns), or
// holds garbage. Checked from outside: the foreign process outlives svc -t,
// svc -k, svc -d and the supervisor's restarts; the supervisor keeps running
// and says one line per refused pid file (exit code 104, as the README says).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOUND_MS, TETHER, alive, exitOf, killAndWait, makeService, startProcess, tempDir } from '../lib/harness';
import { descendants } from '../scan/lib';
import { mkfifo } from '../../src/os/native';
import { TETHER_SUPERVISE, s6, startSupervisor, svc, waitForContent } from '../supervise/lib';
import { FAULT_MARK, Findings, instancesOf, recordFigures, until } from './lib';

const found = new Findings();
/** The one line a refused pid file gets. */
const REFUSAL = /pid file \S*app\.pid (names pid|does not hold a pid|does not exist).*: the service failed \(exit code 104\)$/;
/** Garbage is waited on (it may be half a write) until timeout-ready: keep that short. */
const FILES = { pidfile: 'app.pid\n', 'timeout-ready': '500\n' };

/** What a scenario watches from outside. */
interface Watched {
  dir: string;
  stderr(): string;
  supervisorAlive(): boolean;
  foreignAlive(): boolean;
}

function refusals(w: Watched): number {
  return w.stderr().split('\n').filter((l) => REFUSAL.test(l)).length;
}

/**
 * The common check: refused with exit code 104, refused again after the
 * supervisor's restart, then svc -t, -k, -d; the foreign process lives on,
 * and so does the supervisor, which said nothing but one line per refusal.
 */
async function refusedAndLeftAlone(t: Test, w: Watched): Promise<string> {
  await until(() => refusals(w) >= 1, BOUND_MS, 'the pid file refused');
  await waitForContent(join(w.dir, 'supervise', 'death_tally'), /^[^]{14}/);
  t.match((await s6('s6-svdt', w.dir)).stdout, /^@[0-9a-f]{24} exitcode 104\n/, 'a death with exit code 104');
  await until(() => refusals(w) >= 2, 2 * BOUND_MS, 'the restart refused too');
  t.ok(w.foreignAlive(), 'the foreign process outlived the restart');
  for (const flag of ['-t', '-k']) t.equal((await svc(w.dir, flag)).code, 0, `svc ${flag}`);
  t.equal((await svc(w.dir, '-wD', '-T', String(BOUND_MS), '-d')).code, 0, 'svc -d: down and finished');
  t.ok(w.foreignAlive(), 'the foreign process outlived svc -t, -k and -d');
  t.ok(w.supervisorAlive(), 'the supervisor lives on');
  const lines = w.stderr().split('\n').filter(Boolean);
  t.same(lines.filter((l) => !REFUSAL.test(l)), [], 'nothing said but one line per refusal');
  return `foreign alive, supervisor alive; ${refusals(w)} refusals, ${lines.length} stderr lines`;
}

/** A service whose run writes `content` to app.pid and exits 0, under tether supervise in this pid namespace. */
async function plainCase(t: Test, content: string, foreignAlive: () => boolean): Promise<string> {
  const dir = makeService(join(tempDir(t, 'tether-faults-'), 'svc'), '#!/bin/sh\ncat content > app.pid\nexit 0\n', { ...FILES, content });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  const supPid = sup.child.pid as number;
  return refusedAndLeftAlone(t, { dir, stderr: sup.stderr, supervisorAlive: () => alive(supPid), foreignAlive });
}

t.test('tether: the pid file names a foreign live process', async (t) => {
  const foreign = startProcess(t, 'sleep', ['1000000']);
  const pid = foreign.pid as number;
  const figure = await plainCase(t, `${pid}\n`, () => alive(pid) && foreign.exitCode === null && foreign.signalCode === null);
  found.note('foreign', 'tether', figure);
});

const GARBAGE: Record<string, () => Buffer> = {
  'random bytes': () => {
    const b = Buffer.from(Array.from({ length: 200 }, () => Math.floor(Math.random() * 256)));
    b[0] = 0xff;
    return b;
  },
  'a negative number': () => Buffer.from('-1\n'),
  'a huge number': () => Buffer.from('99999999999999999999999\n'),
  'an empty file': () => Buffer.alloc(0),
};

for (const [name, make] of Object.entries(GARBAGE)) {
  t.test(`tether: the pid file holds ${name}`, async (t) => {
    // -1 would be every process: a witness that a signal to "pid -1" or to a group would reach.
    const witness = startProcess(t, 'sleep', ['1000000']);
    const pid = witness.pid as number;
    const figure = await plainCase(t, make().toString('latin1'), () => alive(pid) && witness.signalCode === null);
    found.note(`garbage ${name}`, 'tether', figure);
  });
}

/**
 * A pid namespace of the test's own (`unshare --pid --fork --kill-child
 * --mount-proc`) whose init is `script` (sh, in `root`); tether supervise
 * runs there on root/svc with its stderr in root/sup.err. Ended by the
 * unshare process's pid: --kill-child takes the namespace's init, and with
 * it every process of the namespace.
 */
async function inNamespace(t: Test, root: string, script: string): Promise<{ unsharePid: number; stderr: () => string; supervisorAlive: () => boolean }> {
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'sh', '-c', script], { cwd: root, stdio: 'ignore' });
  const unsharePid = child.pid as number;
  t.teardown(() => killAndWait(child));
  const exited = exitOf(child, 2 * BOUND_MS).then((e) => `unshare exited early: ${JSON.stringify(e)}`);
  const supOuter = (): number | undefined => descendants(unsharePid).find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('\0supervise\0');
    } catch {
      return false;
    }
  });
  await until(() => supOuter() !== undefined || child.exitCode !== null, BOUND_MS, 'the supervisor in the namespace');
  const pid = supOuter();
  if (pid === undefined) throw new Error(await exited);
  const stderr = () => {
    try {
      return readFileSync(join(root, 'sup.err'), 'latin1');
    } catch {
      return '';
    }
  };
  return { unsharePid, stderr, supervisorAlive: () => alive(pid) };
}

/** The namespace's init: starts the supervisor, logs any signal it gets, and lives as long as the supervisor does. */
function initScript(extra = ''): string {
  return `for sig in HUP INT QUIT USR1 USR2 ALRM TERM CONT; do trap "echo $sig >> init.signals" $sig; done
${JSON.stringify(process.execPath)} ${JSON.stringify(TETHER)} supervise svc 2> sup.err &
sup=$!
${extra}
while kill -0 $sup 2>/dev/null; do wait $sup; done
`;
}

const UNSHARE_OK = process.getuid?.() === 0 && existsSync('/usr/bin/unshare');
const NO_NS = UNSHARE_OK ? false : 'needs root and util-linux unshare for a pid namespace';

t.test('tether: the pid file names pid 1 (in a pid namespace, whose init logs every signal it gets)', { skip: NO_NS }, async (t) => {
  const root = tempDir(t, 'tether-faults-');
  const dir = makeService(join(root, 'svc'), '#!/bin/sh\necho 1 > app.pid\nexit 0\n', FILES);
  const ns = await inNamespace(t, root, initScript());
  const signalled = () => {
    try {
      return readFileSync(join(root, 'init.signals'), 'latin1').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const figure = await refusedAndLeftAlone(t, { dir, stderr: ns.stderr, supervisorAlive: ns.supervisorAlive, foreignAlive: () => alive(ns.unsharePid) });
  t.same(signalled(), [], 'pid 1 got no signal');
  // src/os/pidfile parsePid takes pids above 1 only: pid 1 is refused, and the line says why.
  t.match(ns.stderr(), /app\.pid names pid 1, which no daemon can be: "1\\n"/, 'the line shows the file\'s content, pid 1');
  found.note('pid1', 'tether', `pid 1 got ${signalled().length} signals; ${figure}`);
});

/**
 * run forks the daemon and reaps it (so its pid N is free), hands N to the
 * namespace's init through the FIFO `dead`, and waits on the FIFO `go`. The
 * init writes N-1 to ns_last_pid and forks the foreign process, which gets
 * N (retried while something else took it; nothing else forks meanwhile but
 * a thread of the supervisor). run then writes N to the pid file and exits
 * 0: the pid file names a live process that is not the service's. Later
 * starts write the same stale N again.
 */
const REUSE_RUN = `#!/bin/sh
if [ -e reused.pid ]; then cat reused.pid > app.pid; exit 0; fi
sleep 0 &
d=$!
wait $d
echo $d > ../dead
read x < ../go
echo $d > reused.pid
cp reused.pid app.pid
exit 0
`;

const REUSE_INIT = (foreignId: string) => `read n < dead
tries=0
while :; do
  tries=$((tries + 1))
  echo $((n - 1)) > /proc/sys/kernel/ns_last_pid
  /usr/bin/env ${FAULT_MARK}=${foreignId} sleep 1000000 &
  f=$!
  if [ $f = $n ] || [ $tries -ge 20 ]; then break; fi
  kill -9 $f
done
echo "$n $f $tries" > reuse.log
echo go > go
`;

t.test('tether: the pid file names a pid reused by a foreign process (ns_last_pid in a pid namespace)', { skip: NO_NS }, async (t) => {
  const root = tempDir(t, 'tether-faults-');
  // run waits on the namespace's init for the foreign fork: a long timeout-ready, as nothing here is garbage.
  const dir = makeService(join(root, 'svc'), REUSE_RUN, { ...FILES, 'timeout-ready': '20000\n' });
  mkfifo(join(root, 'dead'), 0o600);
  mkfifo(join(root, 'go'), 0o600);
  const foreignId = `reused-${process.pid}`;
  const ns = await inNamespace(t, root, initScript(REUSE_INIT(foreignId)));
  const log = await waitForContent(join(root, 'reuse.log'), /^\d+ \d+ \d+\n/);
  const [daemon, foreign, tries] = log.trim().split(' ').map(Number);
  t.equal(foreign, daemon, `the foreign process got the dead daemon's pid ${daemon} (in ${tries} tries)`);
  await until(() => instancesOf(foreignId).length === 1, BOUND_MS, 'the foreign process seen from outside');
  const [outer] = instancesOf(foreignId);
  t.teardown(() => {
    if (alive(outer)) process.kill(outer, 'SIGKILL');
  });
  const figure = await refusedAndLeftAlone(t, { dir, stderr: ns.stderr, supervisorAlive: ns.supervisorAlive, foreignAlive: () => instancesOf(foreignId).includes(outer) });
  t.match(ns.stderr(), new RegExp(`names pid ${daemon}, which is not a child`), 'the line names the reused pid');
  found.note('reused', 'tether', `pid reused in ${tries} tries; ${figure}`);
});

const TETHER_ONLY = ' (tether only: Debian s6 2.11 has no pid file support)';
const CHECK = 'the foreign process alive after restarts, svc -t, -k, -d; supervisor alive; one stderr line (exit code 104) per refusal';
t.teardown(() => recordFigures('pidfiles', [
  found.row('pid1', `the pid file names pid 1 (in a pid namespace)${TETHER_ONLY}`, `${CHECK}; pid 1 gets no signal`, false),
  found.row('foreign', `the pid file names a foreign live process${TETHER_ONLY}`, CHECK, false),
  found.row('reused', `the pid file names the dead daemon's pid, reused by a foreign process (ns_last_pid in a pid namespace)${TETHER_ONLY}`, CHECK, false),
  ...Object.keys(GARBAGE).map((name) => found.row(`garbage ${name}`, `the pid file holds ${name}${TETHER_ONLY}`, CHECK, false)),
]));
