import t from 'tap';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FifodirListener, cleanFifodir, isListenerName, makeFifodir, notifyFifodir } from '../../src/wire/fifodir';
import { writeControl } from '../../src/wire/control';
import { isLocked, mkfifo, tryLockWrite, waitpidNohang } from '../../src/os/native';
import { bounded, run, tempDir } from '../lib/harness';

/** Our fds open on `path` (a FIFO's name resolves to its inode while it is linked). */
function fdsOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target === path || target === `${path} (deleted)`;
    } catch {
      return false;
    }
  }).length;
}

t.test('a listener receives what the notifier writes, in order; the notifier keeps no end of it open', async (t) => {
  const dir = join(tempDir(t), 'event');
  makeFifodir(dir);
  t.equal(statSync(dir).mode & 0o7777, 0o3730);
  const l = FifodirListener.subscribe(dir);
  t.teardown(() => l.close());
  t.ok(isListenerName(l.path.slice(dir.length + 1)), 'name is ftrig1:@... of 39 bytes');
  let got = '';
  const done = bounded(new Promise<void>((res) => l.onEvents((e) => {
    got += e;
    if (got.length >= 3) res();
  })), 10_000, 'events');
  notifyFifodir(dir, 'u');
  notifyFifodir(dir, 'dD');
  await done;
  t.equal(got, 'udD');
  t.equal(fdsOn(l.path), 2, "only the listener's own two ends: the notifier closed its end after each event");
  l.close();
  t.notOk(existsSync(l.path), 'closing unsubscribes');
});

t.test('the notifier and cleaner remove FIFOs nobody reads, and skip dot-names', async (t) => {
  const dir = join(tempDir(t), 'event');
  makeFifodir(dir);
  const stale = join(dir, 'ftrig1:@400000006b02459603a4c4de:abcdef');
  const hidden = join(dir, '.ftrig1:@400000006b02459603a4c4de:abcdef');
  mkfifo(stale, 0o600);
  mkfifo(hidden, 0o600);
  notifyFifodir(dir, 's');
  t.notOk(existsSync(stale), 'ENXIO listener unlinked');
  t.ok(existsSync(hidden), 'subscription in progress left alone');
  mkfifo(stale, 0o600);
  cleanFifodir(dir);
  t.same(readdirSync(dir).sort(), ['.ftrig1:@400000006b02459603a4c4de:abcdef']);
});

t.test('a planted symlink gets no byte and is removed, a regular file too', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'event');
  makeFifodir(dir);
  const victim = join(root, 'victim');
  writeFileSync(victim, 'precious');
  // Another service's control FIFO, with a reader: what a planted link would aim at.
  const control = join(root, 'control');
  mkfifo(control, 0o600);
  const reader = openSync(control, constants.O_RDONLY | constants.O_NONBLOCK);
  t.teardown(() => closeSync(reader));
  const names = ['ftrig1:@400000006b02459603a4c4de:linkfi', 'ftrig1:@400000006b02459603a4c4de:linkct', 'ftrig1:@400000006b02459603a4c4de:plain0'];
  symlinkSync(victim, join(dir, names[0]));
  symlinkSync(control, join(dir, names[1]));
  writeFileSync(join(dir, names[2]), '');
  notifyFifodir(dir, 'x');
  t.equal(readFileSync(victim, 'utf8'), 'precious', 'the link target is untouched');
  // No writer is left on it, so a read returns what was written, or 0 for nothing.
  t.equal(readSync(reader, Buffer.alloc(8)), 0, 'the FIFO behind the link got nothing');
  t.same(readdirSync(dir), [], 'every planted entry is unlinked');
});

t.test('OFD write lock is seen by another open file and by flock(1)-free probes', async (t) => {
  const path = join(tempDir(t), 'lock');
  const a = openSync(path, 'w');
  const b = openSync(path, 'r+');
  t.teardown(() => { closeSync(a); closeSync(b); });
  t.equal(isLocked(b), false);
  t.equal(tryLockWrite(a), true);
  t.equal(isLocked(b), true, 'another open file description sees the lock');
  t.equal(tryLockWrite(b), false, 'a second writer is refused');
  // A POSIX fcntl lock probe from another process (what s6 uses) sees it too.
  const probe = await run('python3', ['-c', `import fcntl,sys\nf=open(${JSON.stringify(path)},'r+')\ntry:\n  fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB)\n  sys.exit(0)\nexcept OSError:\n  sys.exit(3)`]);
  t.equal(probe.code, 3);
});

t.test('writeControl classifies missing and deaf supervisors', async (t) => {
  const root = tempDir(t);
  t.equal(writeControl(join(root, 'nope', 'supervise'), 'u'), 'not-supervised');
  mkdirSync(join(root, 'svc', 'supervise'), { recursive: true });
  t.equal(writeControl(join(root, 'svc', 'supervise'), 'u'), 'bad-control');
  mkfifo(join(root, 'svc', 'supervise', 'control'), 0o600);
  t.equal(writeControl(join(root, 'svc', 'supervise'), 'u'), 'not-listening');
});

t.test('waitpidNohang refuses nonsense pids', async (t) => {
  t.throws(() => waitpidNohang(0));
  t.throws(() => waitpidNohang(-1), 'never waitpid(-1)');
});
