// Bad input: each case gets one warning line naming the file and the value,
// and the supervisor keeps working. These are tether's own messages, so they
// run against tether only; Debian's clients still do the checking.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDeathTally } from '../../src/wire/deathtally';
import { STATUS_SIZE, readStatus } from '../../src/wire/status';
import { tainToMs } from '../../src/wire/tain';
import { SUPERVISE_COMMANDS } from '../../src/wire/control';
import { BOUND_MS, alive, bounded, makeService, run, tempDir, tether, writeScript } from '../lib/harness';
import { FifodirListener } from '../../src/wire/fifodir';
import { SHARED, TETHER_SUPERVISE, processOnly, s6, startSupervisor, statusPid, svc, svstat, waitForContent, waitForPath } from './lib';

const T = ['-T', '30000'];
const SLEEPER = 'exec sleep 100000';
// A shared scanner reports its hosted supervisors' warnings, and their start-up failures, under its own name.
const WARNING = SHARED ? /^tether svscan: warning: / : /^tether supervise: warning: /;
const FATAL = SHARED ? 'tether svscan: warning: ' : 'tether supervise: fatal: ';

t.test('no run file: warns, then starts as soon as run appears', async (t) => {
  const dir = join(tempDir(t), 'svc');
  mkdirSync(dir);
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  const line = await sup.waitForStderr(/run/);
  t.match(line, WARNING);
  t.match(line, new RegExp(`unable to spawn ${sup.shown}/run: ENOENT`));
  t.equal((await svstat(dir, '-o', 'up,wantedup')).stdout, 'false true\n', 'down, still wanted up');
  writeScript(join(dir, 'run'), SLEEPER);
  t.equal((await s6('s6-svwait', '-u', '-t', '30000', dir)).code, 0, 'started once run exists');
});

t.test('a run that is not executable: warns; chmod +x fixes it', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  chmodSync(join(dir, 'run'), 0o644);
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  t.match(await sup.waitForStderr(/run/), new RegExp(`unable to spawn ${sup.shown}/run: EACCES`));
  chmodSync(join(dir, 'run'), 0o755);
  t.equal((await s6('s6-svwait', '-u', '-t', '30000', dir)).code, 0, 'started after chmod');
  t.equal((await svc(dir, '-wd', ...T, '-d')).code, 0);
});

t.test('a run that exits at once is restarted at most once a second', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), 'exit 7');
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForContent(join(dir, 'supervise', 'death_tally'), /^[^]{42}/);
  const deaths = readDeathTally(dir);
  t.ok(deaths.length >= 3);
  t.ok(deaths.every((d) => d.exitcode === 7 && d.sig === 0), 'each death recorded as exit 7');
  for (let i = 1; i < deaths.length; i++) {
    // Deaths follow starts at once, so the throttle shows as deaths about a second apart.
    t.ok(tainToMs(deaths[i].stamp) - tainToMs(deaths[i - 1].stamp) >= 900, `death ${i} came no sooner than the throttle allows`);
  }
  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0, 'still obeys svc');
});

t.test('garbage and CRLF in notification-fd, lock-fd, timeout-kill, down-signal', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, {
    'notification-fd': '3\r\n',
    'lock-fd': 'four\n',
    'timeout-kill': '1 0\n',
    'down-signal': 'TERMINATE\r\n',
  });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  t.match(await sup.waitForStderr(/notification-fd/), new RegExp(`${WARNING.source}.*invalid notification-fd: "3\\\\r", ignored$`));
  t.match(await sup.waitForStderr(/lock-fd/), /invalid lock-fd: "four", ignored$/);
  t.equal((await svc(dir, '-wd', ...T, '-d')).code, 0, 'down with the default signal');
  t.match(await sup.waitForStderr(/timeout-kill/), /invalid timeout-kill: "1 0", using 0$/);
  t.match(await sup.waitForStderr(/down-signal/), /invalid down-signal: "TERMINATE\\r", using SIGTERM$/);
  t.equal((await svstat(dir, '-o', 'signal')).stdout, 'SIGTERM\n');
  t.ok(sup.stderr().split('\n').filter(Boolean).every((l) => WARNING.test(l)), 'every message is one warning line');
});

t.test('notification-fd equal to lock-fd: refuses to start until fixed', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { 'notification-fd': '5\n', 'lock-fd': '5\n' });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  t.match(await sup.waitForStderr(/notification-fd/), /notification-fd and lock-fd are both 5/);
  t.equal((await svstat(dir, '-o', 'up,wantedup')).stdout, 'false true\n');
  unlinkSync(join(dir, 'lock-fd'));
  t.equal((await s6('s6-svwait', '-u', '-t', '30000', dir)).code, 0, 'starts once lock-fd is gone');
});

t.test('100000 bytes of garbage on the control FIFO', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  const pid = statusPid(dir);
  const junk = Buffer.alloc(100_000);
  const alphabet = Array.from({ length: 256 }, (_, i) => i).filter((b) => !SUPERVISE_COMMANDS.includes(String.fromCharCode(b)));
  for (let i = 0; i < junk.length; i++) junk[i] = alphabet[(i * 7919) % alphabet.length];
  await run('sh', ['-c', 'cat > "$1"', 'sh', join(dir, 'supervise', 'control')], { input: junk.toString('latin1') });
  t.equal(statusPid(dir), pid, 'nothing happened to the service');
  t.equal((await svc(dir, '-wd', ...T, '-d')).code, 0, 'and the next command works');
  t.equal(sup.child.exitCode, null, 'the supervisor is still running');
});

t.test('100000 status-changing bytes (pause, continue) on the control FIFO: no fd piles up', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  const pid = statusPid(dir);
  const fdsBefore = readdirSync(`/proc/${sup.child.pid}/fd`).length;
  await run('sh', ['-c', 'cat > "$1"', 'sh', join(dir, 'supervise', 'control')], { input: 'pc'.repeat(50_000) });
  t.equal((await svc(dir, '-wd', ...T, '-d')).code, 0, 'the next command works');
  t.notOk(alive(pid), 'the service, continued last, went down');
  t.equal(sup.child.exitCode, null, 'the supervisor is still running');
  t.notMatch(sup.stderr(), /unable to write/, 'every status write succeeded');
  t.ok(readdirSync(`/proc/${sup.child.pid}/fd`).length <= fdsBefore + 2, 'its open fds did not grow');
});

t.test('supervise/control that is a regular file: exit 100', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  mkdirSync(join(dir, 'supervise'));
  writeFileSync(join(dir, 'supervise', 'control'), '');
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir, { waitStatus: false });
  t.same(await sup.ended(), { code: 100, signal: null });
  t.match(sup.stderr(), new RegExp(`^${FATAL}.*control exists and is not a FIFO\n`));
});

t.test('a status file that cannot be written: warn, keep supervising, never torn', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  await s6('s6-svwait', '-u', '-t', '30000', dir);
  const pid = statusPid(dir);
  // We run as root, so permissions do not stop us: a directory where status.new goes does.
  const blocker = join(dir, 'supervise', 'status.new');
  mkdirSync(blocker);
  // Events still go out; each comes after its (failed) status write.
  const events = FifodirListener.subscribe(join(dir, 'event'));
  t.teardown(() => events.close());
  let seen = '';
  const upon = (e: string) => bounded(new Promise<void>((res) => {
    const check = () => seen.includes(e) && res();
    events.onEvents((ev) => { seen += ev; check(); });
    check();
  }), BOUND_MS, `event ${e}`);
  const down = upon('d');
  await svc(dir, '-d');
  t.match(await sup.waitForStderr(/status/), /unable to write .*supervise\/status: EISDIR$/);
  await down;
  t.equal(statSync(join(dir, 'supervise', 'status')).size, STATUS_SIZE, 'the old status is whole');
  t.equal(readStatus(dir).pid, pid, 'and still says what it said');
  t.notOk(alive(pid), 'while the service went down');
  rmdirSync(blocker);
  const up = upon('u');
  await svc(dir, '-u');
  await up;
  t.not(readStatus(dir).pid, pid, 'written again once writable');
  t.ok(readFileSync(join(dir, 'supervise', 'status')).length === STATUS_SIZE);
});

t.test('usage errors exit 100; --help exits 0', async (t) => {
  const none = await tether(['supervise']);
  t.equal(none.code, 100);
  t.match(none.stderr, /^tether supervise: fatal: usage: /);
  t.equal((await tether(['supervise', 'a', 'b'])).code, 100);
  const help = await tether(['supervise', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: tether supervise DIR/);
  const missing = await tether(['supervise', join(tempDir(t), 'nope')]);
  t.equal(missing.code, 111);
  t.match(missing.stderr, /^tether supervise: fatal: unable to use service directory .*nope: ENOENT\n$/);
});

t.test('notification-fd beyond the open files limit is ignored with a warning', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER, { 'notification-fd': '4000000000\n' });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  t.equal((await s6('s6-svwait', '-u', '-t', '30000', dir)).code, 0, 'started anyway');
  t.match(await sup.waitForStderr(/notification-fd/), /invalid notification-fd: "4000000000" is not below the open files limit/);
});

t.test('supervise and event as dangling symlinks: their targets are created', async (t) => {
  const root = tempDir(t);
  const dir = makeService(join(root, 'svc'), SLEEPER);
  symlinkSync('../run-state/supervise', join(dir, 'supervise'));
  symlinkSync(join(root, 'event-target'), join(dir, 'event'));
  mkdirSync(join(root, 'run-state'));
  await startSupervisor(t, TETHER_SUPERVISE, dir, { waitStatus: false });
  await waitForPath(join(root, 'run-state', 'supervise', 'status'));
  t.equal((await s6('s6-svwait', '-u', '-t', '30000', dir)).code, 0);
  t.ok(existsSync(join(root, 'run-state', 'supervise', 'lock')), 'supervise/ created at the link target');
  t.equal(statSync(join(root, 'event-target')).mode & 0o7777, 0o3730, 'event/ created at its target as a fifodir');
});

t.test('config files that are a symlink loop, a FIFO or /dev/zero: a warning and the default', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  symlinkSync('notification-fd', join(dir, 'notification-fd'));
  await run('mkfifo', [join(dir, 'down-signal')]);
  symlinkSync('/dev/zero', join(dir, 'timeout-kill'));
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  t.equal((await s6('s6-svwait', '-u', '-t', '30000', dir)).code, 0, 'the service starts');
  t.match(await sup.waitForStderr(/notification-fd/), /unable to read notification-fd: ELOOP/);
  const pid = statusPid(dir);
  t.equal((await svc(dir, '-wd', ...T, '-d')).code, 0, 'svc -d brings it down, with SIGTERM');
  t.notOk(alive(pid));
  t.match(sup.stderr(), /invalid down-signal: "", using SIGTERM/);
  t.match(sup.stderr(), /invalid timeout-kill: "\\u0000/);
  t.equal(sup.child.exitCode, null, 'the supervisor is still running');
});

t.test('event that exists and is not a directory: exit 100', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  writeFileSync(join(dir, 'event'), 'hi\n');
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir, { waitStatus: false });
  t.same(await sup.ended(), { code: 100, signal: null });
  t.match(sup.stderr(), /event exists and is not a directory/);
});

t.test('SIGUSR1 opens no inspector: it is ignored, with a warning', { skip: processOnly(TETHER_SUPERVISE) }, async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), SLEEPER);
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  process.kill(sup.child.pid!, 'SIGUSR1');
  t.match(await sup.waitForStderr(/SIGUSR1/), /warning: SIGUSR1 ignored/);
  t.notMatch(sup.stderr(), /Debugger listening/);
  t.equal((await svc(dir, '-wd', ...T, '-d')).code, 0, 'and it still supervises');
});
