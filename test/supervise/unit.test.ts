// The restart throttle and the supervisor's deadline, on a fake clock; the session spawner; ReplacedFile.
import t, { type Test } from 'tap';
import { Deadline } from '../../src/supervise/clock';
import { FakeClock } from '../lib/fakeclock';
import { MIN_START_INTERVAL_MS, RestartThrottle } from '../../src/supervise/throttle';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { freeReplacedOnPool, MAX_RETIRED, ReplacedFile } from '../../src/supervise/replacedfile';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipe, spawnProgram, waitpidNohang } from '../../src/os/native';
import { waitForContent, waitForProc } from './lib';
import { ServiceDir } from '../../src/servicedir/servicedir';

t.test('the first start is immediate', async (t) => {
  t.equal(new RestartThrottle().delay(0), 0);
});

t.test('a service that has run over a second restarts at once', async (t) => {
  const th = new RestartThrottle();
  th.started(1000);
  t.equal(th.delay(1000 + MIN_START_INTERVAL_MS), 0);
  t.equal(th.delay(60_000), 0);
});

t.test('a quick crash waits for the rest of the second', async (t) => {
  const th = new RestartThrottle();
  th.started(5000);
  t.equal(th.delay(5000), 1000);
  t.equal(th.delay(5300), 700);
  t.equal(th.delay(5999), 1);
});

t.test('readiness counts as the mark, as in s6', async (t) => {
  const th = new RestartThrottle();
  th.started(0);
  th.ready(3000);
  t.equal(th.delay(3200), 800, 'died 200 ms after becoming ready');
  t.equal(th.delay(4500), 0);
});

t.test('the deadline replaces, clears and fires once', async (t) => {
  const clock = new FakeClock();
  const d = new Deadline(clock);
  const fired: string[] = [];
  d.set(100, () => fired.push('a'));
  d.set(50, () => fired.push('b'));
  t.ok(d.armed);
  clock.advance(60);
  t.same(fired, ['b'], 'only the newest deadline fires');
  t.notOk(d.armed);
  clock.advance(100);
  t.same(fired, ['b']);
  d.set(10, () => fired.push('c'));
  d.clear();
  clock.advance(20);
  t.same(fired, ['b']);
});

t.test('spawnProgram: new session, fds placed even when a target is another source', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-spawn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'probe'), '#!/bin/sh\nfor fd in 0 1 2 5 "$1"; do echo "$fd $(readlink /proc/$$/fd/$fd)"; done > out\ncut -d" " -f5,6 /proc/$$/stat >> out\necho "$0 $FOO" >> out\n');
  chmodSync(join(dir, 'probe'), 0o755);
  const [r, w] = pipe();
  t.teardown(() => { closeSync(r); closeSync(w); });
  // Target r+1 (= w, most likely) is the source of the other mapping: it must not be clobbered.
  const pid = spawnProgram({ path: './probe', argv: ['./probe', String(w)], env: { ...process.env, FOO: 'bar' }, cwd: dir, fds: new Map([[w, r], [5, w]]) });
  t.ok(pid > 0);
  const out = await waitForContent(join(dir, 'out'), /bar\n$/);
  const lines = out.trim().split('\n');
  const pipeOf = (fd: number) => readlinkSync(`/proc/self/fd/${fd}`);
  t.equal(lines[0], `0 ${pipeOf(0)}`, 'fd 0 inherited');
  t.equal(lines[3], `5 ${pipeOf(w)}`, 'fd 5 is the write end');
  t.equal(lines[4], `${w} ${pipeOf(r)}`, `fd ${w} is the read end, though it was the write end's number`);
  t.equal(lines[5], `${pid} ${pid}`, 'pgid = sid = pid: a new session');
  t.equal(lines[6], './probe bar', 'argv and environment');
  let wstat: number | null = null;
  await waitForProc(() => (wstat = waitpidNohang(pid)) !== null, 'the probe to exit');
  t.equal(wstat, 0, 'reaped, exit 0');
});

t.test('ReplacedFile: atomic replacement, no fd held between writes, replaced inodes closed after the turn', async (t) => {
  const { path, file } = replacedFile(t);
  const fdsOnFile = () => fdsOn(path);
  file.write(Buffer.from('first'));
  file.write(Buffer.from('second'));
  file.write(Buffer.from('third'));
  t.equal(readFileSync(path, 'latin1'), 'third', 'the newest content is in place');
  t.notOk(existsSync(`${path}.new`), 'no .new file is left');
  t.equal(fdsOnFile(), 2, 'the replaced inodes are still open during this turn');
  await noneHeld(path);
  t.pass('soon after (closed on the pool, from the next turn) nothing is held: a spawn copies no fd of ours for it');
  file.write(Buffer.from('fourth'));
  file.close();
  t.equal(fdsOnFile(), 0, 'close lets go of everything');
  t.equal(readFileSync(path, 'latin1'), 'fourth', 'closing does not touch the content');
});

t.test('ReplacedFile: clear creates an empty file in place, keeps an empty one, replaces a full one', async (t) => {
  const { path, file } = replacedFile(t);
  file.clear();
  t.equal(readFileSync(path).length, 0, 'created empty');
  const ino = statSync(path).ino;
  file.clear();
  t.equal(statSync(path).ino, ino, 'an empty file stays as it is');
  file.write(Buffer.from('records'));
  file.clear();
  t.equal(readFileSync(path).length, 0, 'a full one is replaced by an empty one');
  t.notOk(existsSync(`${path}.new`), 'no .new file is left');
});

t.test('ReplacedFile: a burst of writes in one turn holds at most MAX_RETIRED replaced inodes', async (t) => {
  const { path, file } = replacedFile(t);
  for (let i = 0; i < 1000; i++) file.write(Buffer.from(`write ${i}`));
  t.equal(readFileSync(path, 'latin1'), 'write 999');
  t.equal(fdsOn(path), MAX_RETIRED, 'the newest replaced inodes only');
  await noneHeld(path);
  t.pass('soon after, none');
});

t.test('ReplacedFile: update reads the current content through the fd it keeps, and writes only a change', async (t) => {
  const { path, file } = replacedFile(t);
  const seen: string[] = [];
  file.update((cur) => {
    seen.push(cur.toString('latin1'));
    return Buffer.from('a');
  });
  t.equal(readFileSync(path, 'latin1'), 'a', 'made from nothing');
  file.update((cur) => {
    seen.push(cur.toString('latin1'));
    return Buffer.concat([cur, Buffer.from('b')]);
  });
  t.equal(readFileSync(path, 'latin1'), 'ab');
  t.same(seen, ['', 'a'], 'each update saw the content then in place');
  const ino = statSync(path).ino;
  file.update((cur) => Buffer.from(cur));
  t.equal(statSync(path).ino, ino, 'the same content is not written again');
  await noneHeld(path);
  t.pass('nothing held soon after');
  writeFileSync(path, 'from outside');
  file.update((cur) => Buffer.concat([cur, Buffer.from('!')]));
  t.equal(readFileSync(path, 'latin1'), 'from outside!', 'what another process wrote is read, not a cached copy');
});

t.test('ReplacedFile: a failed write throws and leaves the old content whole', async (t) => {
  const { path, file } = replacedFile(t);
  file.write(Buffer.from('kept'));
  mkdirSync(`${path}.new`); // open(status.new) now fails with EISDIR
  t.throws(() => file.write(Buffer.from('lost')), { code: 'EISDIR' });
  t.equal(readFileSync(path, 'latin1'), 'kept');
});

/** A ReplacedFile for `status` in a fresh directory; both go at teardown. */
function replacedFile(t: Test): { path: string; file: ReplacedFile } {
  const dir = mkdtempSync(join(tmpdir(), 'tether-replaced-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'status');
  const file = new ReplacedFile(path);
  t.teardown(() => file.close());
  return { path, file };
}

/** How many of our fds refer to `path` (or to inodes replaced there). */
/** Waits (bounded) until no fd of ours is on `path`: replaced inodes are closed on libuv's pool, after this turn. */
async function noneHeld(path: string): Promise<void> {
  for (const end = Date.now() + 30_000; fdsOn(path) > 0; await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > end) throw new Error(`fds still held on ${path}`);
  }
}

function fdsOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path);
    } catch {
      return false; // the fd readdir itself used
    }
  }).length;
}

t.test('timeouts beyond what a Node timer holds are clamped to 2^31-1 ms, not fired at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-sd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ['timeout-kill', 'timeout-finish', 'timeout-ready']) writeFileSync(join(dir, name), '3000000000\n');
  const sd = new ServiceDir(dir);
  t.same([sd.timeoutKill(), sd.timeoutFinish(), sd.timeoutReady()], [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1]);
  writeFileSync(join(dir, 'timeout-kill'), '1500\n');
  t.equal(sd.timeoutKill(), 1500);
});

// Last in this file: the switch is for the process's life, as a shared host sets it.
t.test('ReplacedFile in a shared host: replaced inodes freed on the pool, none held soon after, the content in place', async (t) => {
  freeReplacedOnPool();
  const { path, file } = replacedFile(t);
  for (let i = 0; i < 20; i++) file.write(Buffer.from(`write ${i}`));
  t.ok(fdsOn(path) <= MAX_RETIRED, 'never more than MAX_RETIRED held');
  await noneHeld(path);
  t.pass('all closed after the turn');
  t.equal(readFileSync(path, 'latin1'), 'write 19');
  t.notOk(existsSync(`${path}.new`), 'no .new file is left');
});
