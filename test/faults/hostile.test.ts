// Hostile input in the service directory, against tether and Debian's s6:
// random bytes in every file tether reads there, and symlinks planted in
// event/ and supervise/ by someone who may write there (event/ is
// group-writable by design). Checked from outside: the supervisor keeps
// running, says what it refused on one line per file, the service keeps
// its one instance, and nothing behind a planted link is touched.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BOUND_MS, alive, makeService, tempDir } from '../lib/harness';
import { SUPERVISORS, startSupervisor, svc } from '../supervise/lib';
import { FAULT_MARK, Findings, IMPLS, instancesOf, InstanceSampler, listenerName, markedRun, NeighbourProbe, oneServiceTree, recordFigures, until, upPid, writeAllToFifo } from './lib';

/**
 * Every file tether reads from a service directory (src/servicedir), but
 * the scripts (run, finish, check: garbage there is a failed exec, below)
 * and the files that count by their presence only (down, flag-*). The
 * second list is read only when the first round's files are valid: a pid
 * file to wait for, a watchdog that fires, a health check.
 */
const CONFIG_FILES = [
  'notification-fd', 'lock-fd', 'down-signal', 'reload-signal', 'timeout-kill', 'timeout-finish',
  'max-death-tally', 'pidfile', 'notify-socket', 'notify-access', 'watchdog-usec',
];
const DEPENDENT_FILES = ['timeout-ready', 'watchdog-signal', 'check-interval', 'check-timeout', 'health-retries'];
const SCRIPTS = ['run', 'finish'] as const;
const found = new Findings();

/**
 * Random bytes that are no valid value: the first is a byte no number,
 * signal or name starts with, the second a NUL (else a pidfile's random
 * first line would be a legal file name).
 */
function garbage(): Buffer {
  const b = randomBytes(200);
  b[0] = 0xff;
  b[1] = 0;
  return b;
}

/** Which of `files` a line of `stderr` names, and the lines that are no one-line warning about one of them. */
function reported(stderr: string, files: readonly string[]): { named: string[]; other: string[] } {
  const lines = stderr.split('\n').filter(Boolean);
  const about = (l: string, f: string) => l.includes(`invalid ${f}:`) || l.includes(`unable to read ${f}:`);
  return { named: files.filter((f) => lines.some((l) => about(l, f))), other: lines.filter((l) => !files.some((f) => about(l, f))) };
}

for (const kind of SUPERVISORS) {
  t.test(`${kind.name}: random bytes in every file read from the service directory`, async (t) => {
    const base = tempDir(t, 'tether-faults-');
    const dir = join(base, 'svc');
    const id = `garbage-${kind.name}-${process.pid}`;
    // The service ignores SIGHUP, so that reload (l, with its default signal) does not end it.
    makeService(dir, markedRun(id, "trap '' HUP\n"), { finish: '#!/bin/sh\nexit 0\n' });
    for (const name of CONFIG_FILES) writeFileSync(join(dir, name), garbage());
    const neighbour = makeService(join(base, 'neighbour'), markedRun(`${id}-neighbour`), { down: '' });
    const sampler = new InstanceSampler(t, [id]);
    const sup = await startSupervisor(t, kind, dir);
    const supPid = sup.child.pid as number;
    await startSupervisor(t, kind, neighbour);
    const probe = await NeighbourProbe.start(t, neighbour);
    await until(() => upPid(dir) > 0, BOUND_MS, 'the service up despite the garbage');
    // Every path that reads a file: reload (l), down (down-signal, timeout-kill), finish, the death tally, up.
    await writeAllToFifo(join(dir, 'supervise', 'control'), Buffer.from('l'));
    t.equal((await svc(dir, '-wD', '-T', String(BOUND_MS), '-d')).code, 0, 'down and finished');
    t.equal((await svc(dir, '-wu', '-T', String(BOUND_MS), '-u')).code, 0, 'up again');
    const first = upPid(dir);
    // Each warning is written before the event svc waits for, but reaches us on another pipe.
    if (kind.name === 'tether') await until(() => reported(sup.stderr(), CONFIG_FILES).named.length === CONFIG_FILES.length, BOUND_MS, 'a warning for each file').catch(() => {});
    const round1 = reported(sup.stderr(), CONFIG_FILES);
    if (kind.name === 'tether') {
      t.same(round1.named, CONFIG_FILES, 'a warning names each file');
      t.same(round1.other, [], 'and nothing else is said: one line a file');
    }

    // Now the scripts: garbage in run and finish, and the service killed.
    for (const name of SCRIPTS) {
      writeFileSync(join(dir, name), garbage());
      chmodSync(join(dir, name), 0o755);
    }
    process.kill(first, 'SIGKILL');
    await until(() => !alive(first) && upPid(dir) !== first, BOUND_MS, 'the death seen');
    await sup.waitForStderr(/unable to (spawn|exec) \S*run\b/i);
    t.ok(alive(supPid), 'the supervisor lives on with garbage for run and finish');
    const scripts = reported(sup.stderr(), CONFIG_FILES).other;
    if (kind.name === 'tether') t.ok(scripts.some((l) => /\/finish\b/.test(l)), `finish's failure said: ${scripts[0]}`);
    makeService(dir, markedRun(id));
    const at = performance.now();
    await until(() => upPid(dir) > 0 && instancesOf(id).includes(upPid(dir)), 2 * BOUND_MS, 'up again once run is a script');
    const recovery = performance.now() - at;
    const neighbourMs = await probe.finish(t);
    t.ok(alive(supPid), 'the supervisor lives on');
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    found.note('garbage', kind.name, `alive; ${round1.named.length} of ${CONFIG_FILES.length} files named, ${round1.other.length} other lines; ` +
      `${scripts.length} lines for garbage run/finish; up with a correct status ${recovery.toFixed(0)} ms after run was fixed; ${neighbourMs}`);
  });
}

t.test('tether: random bytes in the files read once a pid file, a watchdog and a health check are set up', async (t) => {
  const kind = SUPERVISORS.find((k) => k.name === 'tether')!;
  const base = tempDir(t, 'tether-faults-');
  const id = `garbage2-${process.pid}`;
  // The daemon is the marked process: run backgrounds it, writes its pid and exits.
  const dir = makeService(join(base, 'svc'), `#!/bin/sh\n/usr/bin/env ${FAULT_MARK}=${id} sleep 1000000 &\necho $! > pid\n`, {
    pidfile: 'pid\n', 'watchdog-usec': '300000\n', check: '#!/bin/sh\nexit 0\n',
  });
  chmodSync(join(dir, 'check'), 0o755);
  for (const name of DEPENDENT_FILES) writeFileSync(join(dir, name), garbage());
  const sampler = new InstanceSampler(t, [id]);
  const sup = await startSupervisor(t, kind, dir);
  // The watchdog fires (nothing sends WATCHDOG=1): the daemon is killed and started again.
  await until(() => reported(sup.stderr(), DEPENDENT_FILES).named.length === DEPENDENT_FILES.length, 2 * BOUND_MS, 'each file read');
  const { named, other } = reported(sup.stderr(), DEPENDENT_FILES);
  t.same(named, DEPENDENT_FILES, 'a warning names each file');
  t.same(other.filter((l) => !/watchdog: no WATCHDOG=1/.test(l)), [], 'nothing else is said but the watchdog firing');
  t.ok(alive(sup.child.pid as number), 'the supervisor lives on');
  t.equal(sampler.maxOf(id), 1, 'never two instances');
  found.note('garbage2', 'tether', `alive; ${named.length} of ${DEPENDENT_FILES.length} files named, ${other.length} other lines (the watchdog firing)`);
});

/** A service beside another: what a planted link in A's directories can do to B. */
for (const impl of IMPLS) {
  t.test(`${impl}: links planted in A's event/ and supervise/ to B's control, B's files and a victim file`, async (t) => {
    const b = await oneServiceTree(t, impl, 'plantedB');
    const aDir = makeService(join(b.root, 'a'), markedRun(`plantedA-${impl}-${process.pid}`), { down: '' });
    const aSup = await startSupervisor(t, SUPERVISORS.find((k) => k.name === impl)!, aDir);
    const victim = join(b.root, 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(join(b.dir, 'supervise', 'control'), join(aDir, 'event', listenerName('ctl')));
    symlinkSync(victim, join(aDir, 'event', listenerName('file')));
    symlinkSync(victim, join(aDir, 'supervise', 'status.new'));
    // Events of A: u, then d and D (a restart of B and a down file for B, through the link to B's control).
    for (const flags of [['-wu', '-u'], ['-wd', '-d'], ['-wu', '-u'], ['-wD', '-D']]) {
      t.equal((await svc(aDir, ...flags, '-T', String(BOUND_MS))).code, 0, `A: svc ${flags.join(' ')}`);
    }
    const bSame = upPid(b.dir) === b.pid && alive(b.pid);
    const bDownFile = existsSync(join(b.dir, 'down'));
    const victimSafe = readFileSync(victim, 'utf8') === 'precious';
    const aAlive = alive(aSup.child.pid as number);
    if (impl === 'tether') {
      t.ok(bSame, 'B was not restarted by A\'s events');
      t.notOk(bDownFile, 'A\'s D did not create B/down');
      t.ok(victimSafe, 'the file behind the links is untouched');
    }
    t.ok(aAlive, 'A\'s supervisor lives on');
    t.equal(b.sampler.maxOf(b.id), 1, 'never two instances of B');
    found.note('planted', impl, `B ${bSame ? 'untouched' : 'restarted'}${bDownFile ? ', B/down created' : ''}; victim ${victimSafe ? 'untouched' : 'overwritten'}`);
  });
}

t.teardown(() => recordFigures('hostile', [
  found.row('garbage', `random bytes in ${CONFIG_FILES.length} config files (${CONFIG_FILES.join(', ')}), then in run and finish`, 'supervisor alive, each file named on one stderr line; recovery to up with a correct status once run is fixed; a healthy neighbour\'s svc -wu latency meanwhile'),
  found.row('garbage2', `random bytes in ${DEPENDENT_FILES.join(', ')} (with a pid file, a watchdog and a check set up)`, 'supervisor alive, each file named on one stderr line', false),
  found.row('planted', "links planted in A's event/ (to B's supervise/control, to a file) and A's supervise/status.new (to a file); A goes up, down, up, down (D)", "B's instance and down file, the file behind the links"),
]));
