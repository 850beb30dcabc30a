// svok and svstat decide "supervised" as Debian's s6-svok does (a write lock
// on supervise/lock), though their common path asks the control FIFO first,
// without native code. The shapes where the two could differ:
import t from 'tap';
import { closeSync, mkdirSync, openSync, constants } from 'node:fs';
import { join } from 'node:path';
import { mkfifo, tryLockWrite } from '../../src/os/native';
import { HAVE_S6, S6_BIN, run, tempDir, tether } from '../lib/harness';

const s6svok = (dir: string) => run(join(S6_BIN, 's6-svok'), [dir]);

t.test('the lock held, supervise/control missing: supervised, as s6-svok says', { skip: !HAVE_S6 && 'no Debian s6' }, async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'supervise'));
  const fd = openSync(join(dir, 'supervise', 'lock'), constants.O_RDWR | constants.O_CREAT, 0o644);
  t.teardown(() => closeSync(fd));
  t.ok(tryLockWrite(fd), 'this test holds the lock');
  t.equal((await tether(['svok', dir])).code, 0);
  t.equal((await s6svok(dir)).code, 0, 's6-svok agrees');
  t.equal((await tether(['svstat', '-o', 'up', dir])).code, 111, 'svstat goes on to the status file, which is missing (111)');
});

t.test('a control FIFO nobody reads and a lock nobody holds: not supervised (1)', { skip: !HAVE_S6 && 'no Debian s6' }, async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'supervise'));
  closeSync(openSync(join(dir, 'supervise', 'lock'), constants.O_RDWR | constants.O_CREAT, 0o644));
  mkfifo(join(dir, 'supervise', 'control'), 0o600);
  t.equal((await tether(['svok', dir])).code, 1);
  t.equal((await s6svok(dir)).code, 1, 's6-svok agrees');
  const st = await tether(['svstat', dir]);
  t.equal(st.code, 1);
  t.match(st.stderr, /not supervised: no supervisor is running on /);
});

t.test('supervise/control a regular file, no lock: not supervised, not fooled by the open', { skip: !HAVE_S6 && 'no Debian s6' }, async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'supervise'));
  closeSync(openSync(join(dir, 'supervise', 'lock'), constants.O_RDWR | constants.O_CREAT, 0o644));
  closeSync(openSync(join(dir, 'supervise', 'control'), constants.O_RDWR | constants.O_CREAT, 0o600));
  t.equal((await tether(['svok', dir])).code, 1);
  t.equal((await s6svok(dir)).code, 1, 's6-svok agrees');
});

t.test('no supervise/ at all: 1, as s6-svok', { skip: !HAVE_S6 && 'no Debian s6' }, async (t) => {
  const dir = tempDir(t);
  t.equal((await tether(['svok', dir])).code, 1);
  t.equal((await s6svok(dir)).code, 1);
});
