// Shared mode on a machine with a writable cgroup2 hierarchy: each service's
// processes live in a leaf of its own, under a cgroup named after the scan
// directory. Membership survives setsid, double forks and a scrubbed
// environment, which defeat the marker; nothing is left behind once the tree
// is down. Skipped, with the reason, where there is no such hierarchy.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2Problem, cgroupPathOf, cgroupProcs, ownCgroup2 } from '../../src/os/cgroup';
import { markerOf } from '../../src/supervise/attribution';
import { alive, exitOf, killAndWait, makeService, run, startProcess, tempDir } from '../lib/harness';
import { startScanner, statusPid, waitExit, waitForPath, waitUp } from './lib';

const T = ['-T', '30000'];
const svc = (...args: string[]) => run('/usr/bin/s6-svc', args);

/** Why these tests cannot run here, or false: a cgroup we can make and remove, as the host does. */
const NO_CGROUP2: string | false = ((problem) => (problem ? `no writable cgroup2 hierarchy (${problem})` : false))(cgroup2Problem());

function keyOf(dir: string): string {
  const st = statSync(dir);
  return `${st.dev}-${st.ino}`;
}

/** The scan directory's cgroup, and a service's leaf in it, where the host makes them. */
function treeOf(scandir: string): string {
  return join(ownCgroup2()!, `tether-${keyOf(scandir)}`);
}
function leafOf(scandir: string, dir: string): string {
  return join(treeOf(scandir), `svc-${keyOf(dir)}`);
}

/** A run that leaves a daemon with setsid and an empty environment (no marker), its pid in daemon.pid. */
const SCRUBBED = `#!/bin/sh
rm -f daemon.pid
(setsid env -i sh -c 'echo $$ > daemon.pid.new && mv daemon.pid.new daemon.pid; exec sleep 1000' &)
exec sleep 1000
`;

async function daemonOf(dir: string): Promise<number> {
  await waitForPath(join(dir, 'daemon.pid'));
  return Number(readFileSync(join(dir, 'daemon.pid'), 'latin1').trim());
}

t.test('a daemon with setsid and a scrubbed environment is still its service\'s: stopped with it, the neighbour untouched, no cgroup left', { skip: NO_CGROUP2 }, async (t) => {
  const scandir = tempDir(t);
  const a = makeService(join(scandir, 'a'), SCRUBBED);
  const b = makeService(join(scandir, 'b'), SCRUBBED);
  const sc = await startScanner(t, scandir, { args: ['--shared'] });
  await Promise.all([waitUp(a), waitUp(b)]);
  const [da, db] = await Promise.all([daemonOf(a), daemonOf(b)]);
  t.equal(markerOf(da), undefined, 'a\'s daemon carries no marker');
  t.ok(cgroupProcs(leafOf(scandir, a)).includes(da), 'but it is in a\'s leaf');
  t.ok(cgroupProcs(leafOf(scandir, a)).includes(statusPid(a)), 'with a\'s run');
  t.notOk(cgroupProcs(leafOf(scandir, a)).includes(sc.pid), 'the host is back in its own cgroup');
  const runB = statusPid(b);
  t.equal((await svc('-wD', ...T, '-d', a)).code, 0, 'a is down');
  await waitExit(t, da);
  t.pass('a\'s daemon was stopped with a');
  t.same(cgroupProcs(leafOf(scandir, a)), [], 'a\'s leaf is empty');
  t.ok(alive(db) && alive(runB), 'b and its daemon run on');
  const ex = await sc.stop();
  t.equal(ex.code, 0);
  t.notOk(alive(db), 'b\'s daemon went with the tree');
  t.notOk(existsSync(treeOf(scandir)), 'no cgroup left behind');
});

t.test('a shared host killed by SIGKILL: the next one finds the old instance by its cgroup, though it scrubbed its marker, and kills it', { skip: NO_CGROUP2 }, async (t) => {
  const scandir = tempDir(t);
  // run itself drops the environment: only the cgroup still says whose it is. Both of its
  // processes ignore SIGTERM, so they go only at the SIGKILL (the leaf's cgroup.kill).
  const dir = makeService(join(scandir, 'a'), `#!/bin/sh\nexec env -i sh -c 'trap "" TERM; sleep 1000 & echo $! > child; exec sleep 1000'\n`, { 'timeout-kill': '300\n' });
  const first = await startScanner(t, scandir, { args: ['--shared'] });
  await waitUp(dir);
  const old = statusPid(dir);
  await waitForPath(join(dir, 'child'));
  const child = Number(readFileSync(join(dir, 'child'), 'latin1'));
  t.equal(markerOf(old), undefined, 'the instance carries no marker');
  process.kill(first.pid, 'SIGKILL');
  await exitOf(first.child);
  t.ok(alive(old) && alive(child), 'the instance outlives its host');
  t.ok(cgroupProcs(leafOf(scandir, dir)).includes(old), 'in its leaf');
  const second = await startScanner(t, scandir, { args: ['--shared'] });
  await waitExit(t, old);
  await waitExit(t, child);
  await waitUp(dir);
  t.not(statusPid(dir), old, 'a new instance, started once the old one was gone');
  t.match(second.output().stderr, new RegExp(`a: its previous host died; stopping its processes (\\d+ )*${old}\\b`));
  t.equal((await second.stop()).code, 0);
  t.notOk(existsSync(treeOf(scandir)), 'no cgroup left behind');
});

const typeOf = (cgroup: string) => readFileSync(join(cgroup, 'cgroup.type'), 'latin1').trim();
/** The cgroup (as /proc names it) of one thread of ours: the main thread's is where a spawn lands. */
const threadCgroup = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/cgroup`, 'latin1').split('\n').find((l) => l.startsWith('0::'))?.slice(3);

t.test('a restart moves one thread, not the host: threaded leaves, the host in the tree, each new run born in its leaf', { skip: NO_CGROUP2 }, async (t) => {
  const scandir = tempDir(t);
  const dir = makeService(join(scandir, 'a'), '#!/bin/sh\nexec sleep 1000\n');
  const sc = await startScanner(t, scandir, { args: ['--shared'] });
  await waitUp(dir);
  const leaf = leafOf(scandir, dir);
  t.equal(typeOf(leaf), 'threaded', 'the leaf is threaded');
  const tree = cgroupPathOf(sc.pid)!;
  t.ok(treeOf(scandir).endsWith(tree), 'the host lives in the tree, the leaves\' threaded domain');
  for (let i = 0; i < 3; i++) {
    const old = statusPid(dir);
    t.equal((await svc('-wr', ...T, '-k', dir)).code, 0, `restart ${i + 1}`);
    await waitUp(dir);
    const now = statusPid(dir);
    t.not(now, old, 'a new instance');
    t.ok(cgroupProcs(leaf).includes(now), 'born in its leaf');
    t.notOk(cgroupProcs(leaf).includes(sc.pid), 'and the host\'s main thread is not left there');
    t.ok(treeOf(scandir).endsWith(threadCgroup(sc.pid)!), 'but back in the tree');
  }
  t.equal((await sc.stop()).code, 0);
  t.notOk(existsSync(treeOf(scandir)), 'no cgroup left behind');
});

t.test('a populated domain leaf of an older host: the leaves stay domains and the process moves, as before', { skip: NO_CGROUP2 }, async (t) => {
  const scandir = tempDir(t);
  const dir = makeService(join(scandir, 'a'), '#!/bin/sh\nexec sleep 1000\n');
  // What an older tether left: the tree, and a leaf in which a process still lives.
  const oldLeaf = join(treeOf(scandir), 'svc-older');
  mkdirSync(oldLeaf, { recursive: true });
  const lingering = startProcess(t, 'sleep', ['1000'], { stdio: 'ignore' });
  writeFileSync(join(oldLeaf, 'cgroup.procs'), String(lingering.pid));
  t.teardown(async () => {
    await killAndWait(lingering);
    for (const d of [oldLeaf, leafOf(scandir, dir), treeOf(scandir)]) {
      try {
        rmdirSync(d);
      } catch {
        // gone already
      }
    }
  });
  const sc = await startScanner(t, scandir, { args: ['--shared'] });
  await waitUp(dir);
  const leaf = leafOf(scandir, dir);
  t.equal(typeOf(leaf), 'domain', 'the leaf is a domain');
  const old = statusPid(dir);
  t.ok(cgroupProcs(leaf).includes(old), 'run is in its leaf');
  t.equal((await svc('-wr', ...T, '-k', dir)).code, 0, 'restarted');
  await waitUp(dir);
  t.ok(cgroupProcs(leaf).includes(statusPid(dir)), 'the new run is in its leaf too');
  t.notOk(cgroupProcs(leaf).includes(sc.pid), 'the host went back');
  t.equal(cgroupPathOf(sc.pid), cgroupPathOf(process.pid), 'to the cgroup it came from');
  t.equal((await sc.stop()).code, 0);
  t.notOk(existsSync(leaf), 'its own leaf removed');
});
