// Hostile entries planted where a supervisor writes (issue 15, items 2, 3
// and 5). event/ is group-writable by design, so a member of its group may
// plant anything there; supervise/ may be a link into a shared tmpfs. s6 2.11
// follows such links, so these run against tether supervise only.
import t, { type Test } from 'tap';
import { closeSync, constants, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { mkfifo, tryLockWrite } from '../../src/os/native';
import { STATUS_SIZE, readStatus } from '../../src/wire/status';
import { makeService, tempDir, tether } from '../lib/harness';
import { SLEEPER, supervise, TETHER_SUPERVISOR } from './lib';

const BOUND = ['-T', '20000'];

const TETHER_SUP = TETHER_SUPERVISOR;
/** A name a listener would have: ftrig1:@ + 24 hex digits + : + 6 characters. */
const listenerName = (tag: string) => `ftrig1:@${'0'.repeat(24)}:${tag.padEnd(6, 'x').slice(0, 6)}`;

/** Brings `dir` up, then down: once the down is seen, the notification of the up is long over. */
async function upThenDown(t: Test, dir: string): Promise<void> {
  t.equal((await tether(['svc', '-wu', ...BOUND, '-u', dir])).code, 0, 'up');
  t.equal((await tether(['svc', '-wd', ...BOUND, '-d', dir])).code, 0, 'down');
}

t.test('event/: a planted symlink or regular file gets no byte, and is removed', { skip: TETHER_SUP.missing ?? false }, async (t) => {
  const base = tempDir(t);
  const dir = makeService(join(base, 'a'), SLEEPER, { down: '' });
  await supervise(t, TETHER_SUP, dir);
  // Another service's control FIFO, as the attacker wants it: here a FIFO this test reads.
  const control = join(base, 'b-control');
  mkfifo(control, 0o600);
  const reader = openSync(control, constants.O_RDONLY | constants.O_NONBLOCK);
  t.teardown(() => closeSync(reader));
  const victim = join(base, 'victim');
  writeFileSync(victim, 'precious');
  const toControl = join(dir, 'event', listenerName('ctl'));
  const toFile = join(dir, 'event', listenerName('file'));
  // A regular file there, seen afterwards through a second (hard) link of ours.
  const plain = join(base, 'plain');
  writeFileSync(plain, 'mine');
  const plainEntry = join(dir, 'event', listenerName('plain'));
  linkSync(plain, plainEntry);
  symlinkSync(control, toControl);
  symlinkSync(victim, toFile);
  await upThenDown(t, dir);
  let got: number;
  try {
    got = readSync(reader, Buffer.alloc(64));
  } catch (err) {
    got = (err as NodeJS.ErrnoException).code === 'EAGAIN' ? 0 : -1;
  }
  t.equal(got, 0, 'nothing reached the FIFO behind the link (no command for another service)');
  t.equal(readFileSync(victim, 'utf8'), 'precious', 'the file behind the link is untouched');
  t.equal(readFileSync(plain, 'utf8'), 'mine', 'a regular file gets no byte either');
  t.notOk([toControl, toFile, plainEntry].some((p) => existsSync(p)), 'the entries are removed (no listener can use them)');
});

t.test('supervise/status.new planted as a symlink: never written through; status stays a file of ours', { skip: TETHER_SUP.missing ?? false }, async (t) => {
  const base = tempDir(t);
  const dir = makeService(join(base, 'a'), SLEEPER, { down: '' });
  await supervise(t, TETHER_SUP, dir);
  const victim = join(base, 'victim');
  writeFileSync(victim, 'precious');
  symlinkSync(victim, join(dir, 'supervise', 'status.new'));
  symlinkSync(victim, join(dir, 'supervise', 'death_tally.new'));
  await upThenDown(t, dir);
  t.equal(readFileSync(victim, 'utf8'), 'precious', 'the file behind the link is untouched');
  t.ok(lstatSync(join(dir, 'supervise', 'status')).isFile(), 'status is a regular file, not the planted link');
  t.equal(readFileSync(join(dir, 'supervise', 'status')).length, STATUS_SIZE);
  t.equal(readStatus(dir).pid, 0, 'and it says down');
});

t.test('svc: the lock held but supervise/control gone: 102, supervisor not listening', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'supervise'));
  const fd = openSync(join(dir, 'supervise', 'lock'), constants.O_RDWR | constants.O_CREAT, 0o644);
  t.teardown(() => closeSync(fd));
  t.ok(tryLockWrite(fd), 'this test holds the lock, as a supervisor would');
  const r = await tether(['svc', '-d', dir]);
  t.equal(r.code, 102);
  t.equal(r.stderr, `tether svc: fatal: unable to control ${dir}: supervisor not listening\n`);
});
