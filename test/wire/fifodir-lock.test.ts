import t from 'tap';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FifodirListener, FifodirNotifier, cleanFifodir, isListenerName, makeFifodir, notifyFifodir } from '../../src/wire/fifodir';
import { writeControl } from '../../src/wire/control';
import { isLocked, mkfifo, tryLockWrite, waitpidNohang } from '../../src/os/native';
import { bounded, run, tempDir } from '../lib/harness';

t.test('a listener receives what the notifier writes, in order', async (t) => {
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

/** Our fds open on `path` (a FIFO's name resolves to its inode while it is linked). */
function fdsOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === `${path}` || readlinkSync(`/proc/self/fd/${fd}`) === `${path} (deleted)`;
    } catch {
      return false;
    }
  }).length;
}

/** Collects a listener's event bytes; `until(n)` resolves once n bytes came. */
function collect(l: FifodirListener): { text: () => string; until: (n: number) => Promise<void> } {
  let got = '';
  const waits: Array<{ n: number; res: () => void }> = [];
  l.onEvents((e) => {
    got += e;
    for (const w of waits.splice(0)) if (got.length >= w.n) w.res(); else waits.push(w);
  });
  return {
    text: () => got,
    until: (n) => bounded(new Promise<void>((res) => (got.length >= n ? res() : waits.push({ n, res }))), 10_000, `${n} event bytes`),
  };
}

t.test('a notifier holds each listener open across events, and lets go of one that left', async (t) => {
  const dir = join(tempDir(t), 'event');
  makeFifodir(dir);
  const notifier = new FifodirNotifier(dir);
  t.teardown(() => notifier.close());
  const a = FifodirListener.subscribe(dir);
  t.teardown(() => a.close());
  const ga = collect(a);
  notifier.notify('u');
  notifier.notify('d');
  await ga.until(2);
  t.equal(ga.text(), 'ud');
  // The listener's own two ends, and one of ours, kept between events.
  t.equal(fdsOn(a.path), 3, 'one write end held by the notifier');
  const b = FifodirListener.subscribe(dir);
  t.teardown(() => b.close());
  const gb = collect(b);
  notifier.notify('U');
  await gb.until(1);
  await ga.until(3);
  t.equal(gb.text(), 'U', 'a listener that came later gets the next event');
  const path = a.path;
  a.close();
  notifier.notify('D');
  await gb.until(2);
  t.equal(fdsOn(path), 0, 'the end held for a listener that left is closed');
  notifier.close();
  t.equal(fdsOn(b.path), 2, 'close() lets go of every held end');
});

t.test('a held listener replaced by a symlink: nothing is written through the link', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'event');
  makeFifodir(dir);
  const victim = join(root, 'victim');
  writeFileSync(victim, 'precious');
  const notifier = new FifodirNotifier(dir);
  t.teardown(() => notifier.close());
  const l = FifodirListener.subscribe(dir);
  t.teardown(() => l.close());
  const g = collect(l);
  notifier.notify('u');
  await g.until(1);
  // The entry is swapped for a link to a regular file; the listener still reads its FIFO.
  const aside = `${l.path}.aside`;
  renameSync(l.path, aside);
  symlinkSync(victim, l.path);
  notifier.notify('d');
  await g.until(2);
  t.equal(readFileSync(victim, 'utf8'), 'precious', 'the link target is untouched');
  // A notifier that never held it refuses the link and removes it.
  notifyFifodir(dir, 'x');
  t.notOk(existsSync(l.path), 'the planted link is unlinked');
  t.equal(readFileSync(victim, 'utf8'), 'precious');
  unlinkSync(aside);
});

t.test('a held listener whose reader died without unlinking is removed on the next event', async (t) => {
  const dir = join(tempDir(t), 'event');
  makeFifodir(dir);
  const notifier = new FifodirNotifier(dir);
  t.teardown(() => notifier.close());
  const name = 'ftrig1:@400000006b02459603a4c4de:abcdef';
  const fifo = join(dir, name);
  mkfifo(fifo, 0o622);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  notifier.notify('u');
  t.equal(fdsOn(fifo), 2, 'held while its reader lives');
  closeSync(reader);
  notifier.notify('d');
  t.notOk(existsSync(fifo), 'EPIPE: the entry is unlinked');
  t.equal(fdsOn(fifo), 0, 'and our end closed');
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
