// tether svscan: what a scan finds, rescans (control byte, signals, --watch),
// renames, removals, and Debian's s6 clients driving the tree.
import t from 'tap';
import { mkdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf } from '../../src/os/proc';
import { HAVE_S6, S6_BIN, alive, exitOf, makeService, run, tempDir, tether, s6Restart } from '../lib/harness';
import { startScanner, statusPid, supervisorOf, waitExit, waitUp } from './lib';

const SLEEP = 'exec sleep 1000';

function s6(tool: string, args: string[]) {
  return run(join(S6_BIN, tool), args);
}

t.test('a scan supervises every directory, skipping dot-names and files, following symlinks', async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  makeService(join(scandir, 'alpha'), SLEEP);
  makeService(join(scandir, '.hidden'), SLEEP);
  makeService(join(root, 'elsewhere'), SLEEP);
  symlinkSync(join(root, 'elsewhere'), join(scandir, 'linked'));
  symlinkSync(join(root, 'nowhere'), join(scandir, 'dangling'));
  writeFileSync(join(scandir, 'notes.txt'), 'not a service\n');
  const sc = await startScanner(t, scandir);
  for (const name of ['alpha', 'linked']) {
    const ok = await run(join(S6_BIN, 's6-svok'), [join(scandir, name)]).catch(() => tether(['svok', join(scandir, name)]));
    t.equal(ok.code, 0, `-d: when the scanner says ready, ${name}'s supervisor is listening`);
  }
  await waitUp(join(scandir, 'alpha'));
  await waitUp(join(scandir, 'linked'));
  const sups = childrenOf(sc.pid);
  t.equal(sups.length, 2, 'one supervisor per service directory, nothing for dot-names, files or dangling links');
  for (const name of ['alpha', 'linked']) {
    const pid = supervisorOf(sc.pid, name);
    t.ok(pid, `a supervisor runs with argv[1] = ${name}`);
    t.equal(readlinkSync(`/proc/${pid}/cwd`), scandir, 'its cwd is the scan directory');
  }
  t.equal((await tether(['svok', join(scandir, '.hidden')]).catch(() => s6('s6-svok', [join(scandir, '.hidden')]))).code, 1, '.hidden is not supervised');
  t.match(sc.output().stderr, /dangling/, 'the dangling link is reported');
  const second = await tether(['svscan', scandir]);
  t.equal(second.code, 100, 'a second scanner on the same tree exits 100');
  t.match(second.stderr, `another svscan (pid ${sc.pid}) is running on ${scandir}`);
  const ex = await sc.stop();
  t.equal(ex.code, 0, 'svscanctl -t: the scanner exits 0');
  for (const p of sups) t.notOk(alive(p), `supervisor ${p} is gone`);
});

t.test('rescans: svscanctl -a, SIGALRM, SIGHUP and --watch each pick up a new service', async (t) => {
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'first'), SLEEP);
  const sc = await startScanner(t, scandir);
  makeService(join(scandir, 'by-a'), SLEEP);
  t.equal((await tether(['svscanctl', '-a', scandir])).code, 0);
  await waitUp(join(scandir, 'by-a'));
  makeService(join(scandir, 'by-alrm'), SLEEP);
  process.kill(sc.pid, 'SIGALRM');
  await waitUp(join(scandir, 'by-alrm'));
  makeService(join(scandir, 'by-hup'), SLEEP);
  process.kill(sc.pid, 'SIGHUP');
  await waitUp(join(scandir, 'by-hup'));
  t.equal(childrenOf(sc.pid).length, 4, 'four supervisors');
  t.equal((await sc.stop()).code, 0);

  const pdir = join(tempDir(t), 'scan');
  makeService(join(pdir, 'first'), SLEEP);
  const p = await startScanner(t, pdir, { args: ['-t', '200'] });
  makeService(join(pdir, 'periodic'), SLEEP);
  await waitUp(join(pdir, 'periodic'));
  t.ok(supervisorOf(p.pid, 'periodic'), '-t: a periodic rescan picked it up');
  t.equal((await p.stop()).code, 0);

  const wdir = join(tempDir(t), 'scan');
  makeService(join(wdir, 'first'), SLEEP);
  const w = await startScanner(t, wdir, { args: ['--watch'] });
  // Made elsewhere, then moved in: the directory is complete when it appears.
  makeService(join(wdir, '..', 'incoming'), SLEEP);
  renameSync(join(wdir, '..', 'incoming'), join(wdir, 'watched'));
  await waitUp(join(wdir, 'watched'));
  t.ok(supervisorOf(w.pid, 'watched'), '--watch: the new service has a supervisor with no command sent');
  t.equal((await w.stop()).code, 0);
});

// s6-supervise chdirs into its service directory, and tether supervise works
// through an open fd of it, so a rename or removal from the tree disturbs
// neither.
const KINDS = [
  { name: 'tether supervise', args: [] as string[], stop: '-n' },
  { name: 'tether supervise', args: [] as string[], stop: 'SIGHUP' },
  ...(HAVE_S6 ? [
    { name: 's6-supervise', args: ['--supervisor', join(S6_BIN, 's6-supervise')], stop: '-n' },
    { name: 's6-supervise', args: ['--supervisor', join(S6_BIN, 's6-supervise')], stop: 'SIGHUP' },
  ] : []),
];
for (const kind of KINDS) {
  t.test(`${kind.name}: renaming keeps the supervisor; removal makes it inactive until ${kind.stop} stops it`, async (t) => {
    const root = tempDir(t);
    const scandir = join(root, 'scan');
    makeService(join(scandir, 'old'), SLEEP);
    makeService(join(scandir, 'keep'), SLEEP);
    const sc = await startScanner(t, scandir, { args: kind.args });
    await waitUp(join(scandir, 'old'));
    const sup = supervisorOf(sc.pid, 'old') as number;
    const svcPid = statusPid(join(scandir, 'old'));
    renameSync(join(scandir, 'old'), join(scandir, 'new'));
    await tether(['svscanctl', '-a', scandir]);
    await tether(['svscanctl', '-z', scandir]); // a second command: the first has been handled
    t.same(childrenOf(sc.pid).sort(), [sup, supervisorOf(sc.pid, 'keep')].sort(), 'same supervisors after the rename');
    t.equal(statusPid(join(scandir, 'new')), svcPid, 'the service was not restarted');
    const restart = await s6Restart(join(scandir, 'new'), '-t');
    t.equal(restart.code, 0, 'the renamed service restarts normally', {
      svcStderr: restart.stderr, scannerStderr: sc.output().stderr, svstat: (await s6('s6-svstat', [join(scandir, 'new')])).stdout,
    });

    // Out of the tree: inactive, still supervised, until -n.
    renameSync(join(scandir, 'new'), join(root, 'removed'));
    await tether(['svscanctl', '-a', scandir]);
    await tether(['svscanctl', '-z', scandir]);
    t.ok(alive(sup), 'an inactive supervisor is not killed by a plain rescan');
    const upPid = statusPid(join(root, 'removed'));
    if (kind.stop === 'SIGHUP') process.kill(sc.pid, 'SIGHUP');
    else t.equal((await tether(['svscanctl', kind.stop, scandir])).code, 0);
    await waitExit(t, sup);
    t.notOk(alive(sup), `${kind.stop}: its supervisor has exited`);
    t.notOk(alive(upPid), 'and its service is gone');
    t.match((await s6('s6-svstat', [join(root, 'removed')])).stderr, /not running/);
    t.ok(supervisorOf(sc.pid, 'keep'), 'the other service is untouched');
  });
}

t.test("Debian's s6-svscanctl, s6-svc and s6-svstat drive a tree run by tether svscan", { skip: !HAVE_S6 && 'no s6' }, async (t) => {
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'web'), SLEEP);
  const sc = await startScanner(t, scandir);
  await waitUp(join(scandir, 'web'));
  t.match((await s6('s6-svstat', [join(scandir, 'web')])).stdout, /^up \(pid \d+\)/);
  t.equal((await s6('s6-svc', ['-wd', '-T', '30000', '-d', join(scandir, 'web')])).code, 0, 's6-svc -wd -d');
  t.match((await s6('s6-svstat', [join(scandir, 'web')])).stdout, /^down \(signal SIGTERM\)/);
  t.equal((await s6('s6-svc', ['-wu', '-T', '30000', '-u', join(scandir, 'web')])).code, 0, 's6-svc -wu -u');
  makeService(join(scandir, 'api'), SLEEP);
  t.equal((await s6('s6-svscanctl', ['-a', scandir])).code, 0, 's6-svscanctl -a');
  await waitUp(join(scandir, 'api'));
  t.match((await s6('s6-svstat', [join(scandir, 'api')])).stdout, /^up /);
  t.equal((await s6('s6-svscanctl', ['-t', scandir])).code, 0, 's6-svscanctl -t');
  t.equal((await exitOf(sc.child)).code, 0, 'the scanner stops and exits 0');
  const gone = await s6('s6-svscanctl', ['-a', scandir]);
  t.equal(gone.code, 100, 's6-svscanctl exits 100 once no scanner listens');
  t.equal((await tether(['svscanctl', '-a', scandir])).code, 100, 'so does tether svscanctl');
});

t.test('tether svscan runs real s6-supervise with --supervisor', { skip: !HAVE_S6 && 'no s6' }, async (t) => {
  const scandir = join(tempDir(t), 'scan');
  makeService(join(scandir, 'one'), SLEEP);
  const sc = await startScanner(t, scandir, { args: ['--supervisor', join(S6_BIN, 's6-supervise')] });
  await waitUp(join(scandir, 'one'));
  const sup = supervisorOf(sc.pid, 'one') as number;
  t.match(readFileSync(`/proc/${sup}/cmdline`, 'latin1'), /^\/usr\/bin\/s6-supervise\0one\0$/);
  t.equal((await sc.stop()).code, 0);
  t.notOk(alive(sup));
});

t.test('usage errors exit 100 with a one-line message; --help exits 0', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'scan'));
  for (const args of [['svscan'], ['svscan', '-t', 'x', dir], ['svscan', '--bogus', dir], ['svscan', '-d', '1', dir], ['svscanctl', '-x', dir], ['svscanctl']]) {
    const r = await tether(args);
    t.equal(r.code, 100, args.join(' '));
    t.match(r.stderr, /usage error/);
  }
  for (const cmd of ['svscan', 'svscanctl', 'log']) {
    const r = await tether([cmd, '--help']);
    t.equal(r.code, 0);
    t.match(r.stdout, new RegExp(`^usage: tether ${cmd}`));
  }
  const r = await tether(['svscanctl', '-a', join(dir, 'scan')]);
  t.equal(r.code, 100, 'no scanner: 100');
});
