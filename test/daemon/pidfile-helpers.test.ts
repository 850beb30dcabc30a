import t from 'tap';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptDaemonPid, describePidFileError, isOwnChild, isOwnDescendant, parsePid, readPidFile, waitForFile, waitForPidFile } from '../../src/os/pidfile';
import { exitOf, killAndWait, tempDir } from '../lib/harness';

t.test('readPidFile is strict by default', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'p.pid');
  t.same(readPidFile(f), { error: 'missing', content: '' });
  writeFileSync(f, '1234\n');
  t.same(readPidFile(f), { pid: 1234 });
  for (const bad of ['1234', ' 1234\n', '12a4\n', '1234\n\n', '0\n', '1\n', '-5\n', '', '0x10\n', '99999999999\n', '1'.repeat(600)]) {
    writeFileSync(f, bad);
    const r = readPidFile(f);
    t.ok('error' in r && r.error === 'garbage', `garbage: ${JSON.stringify(bad.slice(0, 20))}`);
  }
  t.equal(parsePid(' 42 \n', { lenient: true }), 42);
  t.equal(parsePid('42', { lenient: true }), 42);
  t.equal(parsePid('4 2', { lenient: true }), null);
});

t.test('isOwnChild accepts our child and refuses others', async (t) => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => killAndWait(child));
  t.ok(isOwnChild(child.pid!));
  t.ok(isOwnDescendant(child.pid!));
  t.notOk(isOwnChild(process.ppid), 'our parent is not our child');
  t.notOk(isOwnChild(1));
  t.notOk(isOwnChild(process.pid));
  // A grandchild is a descendant, not a child.
  const sh = spawn('sh', ['-c', 'sleep 60 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => killAndWait(sh));
  const grandchild = await new Promise<number>((res) => sh.stdout!.once('data', (d) => res(Number(String(d).trim()))));
  t.teardown(() => { try { process.kill(grandchild, 'SIGKILL'); } catch { /* gone */ } });
  t.notOk(isOwnChild(grandchild));
  t.ok(isOwnDescendant(grandchild));
  process.kill(child.pid!, 'SIGKILL');
  await exitOf(child);
});

t.test('waitForFile wakes on creation and gives up at its bound', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'late.pid');
  const waiting = waitForFile(f, 20_000);
  setImmediate(() => writeFileSync(f, 'x'));
  t.equal(await waiting, true);
  t.equal(await waitForFile(join(dir, 'never'), 50), false);
});

t.test('waitForPidFile waits for the newline that ends the write', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'd.pid');
  const waiting = waitForPidFile(f, 20_000);
  writeFileSync(f, '43');
  setTimeout(() => appendFileSync(f, '21\n'), 20);
  t.same(await waiting, { pid: 4321 });
  writeFileSync(f, 'junk');
  t.same(await waitForPidFile(f, 30), { error: 'garbage', content: 'junk' });
  t.same(await waitForPidFile(join(dir, 'none'), 30), { error: 'missing', content: '' });
});

t.test('waitForPidFile follows a run directory made after the wait began, and stops on abort', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'run', 'sub', 'd.pid');
  const waiting = waitForPidFile(f, 20_000);
  setImmediate(() => {
    mkdirSync(join(dir, 'run'));
    setImmediate(() => {
      mkdirSync(join(dir, 'run', 'sub'));
      writeFileSync(f, '777\n');
    });
  });
  t.same(await waiting, { pid: 777 });
  const ac = new AbortController();
  const aborted = waitForPidFile(join(dir, 'never.pid'), 20_000, { signal: ac.signal });
  ac.abort();
  t.same(await aborted, { error: 'missing', content: '' });
});

t.test('acceptDaemonPid: our child, a pid we reaped, a descendant at the bound, or a refusal that names the file and content', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'd.pid');
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => killAndWait(child));
  writeFileSync(f, `${child.pid}\n`);
  t.same(await acceptDaemonPid(f, 1000), { pid: child.pid });
  writeFileSync(f, `${process.ppid}\n`);
  const foreign = await acceptDaemonPid(f, 1000);
  t.same(foreign, { error: 'foreign', content: `${process.ppid}\n` });
  t.equal(describePidFileError(f, foreign as Exclude<typeof foreign, { pid: number }>), `pid file ${f} names pid ${process.ppid}, which is not a child of this process (a stale file or a reused pid)`);
  t.same(await acceptDaemonPid(f, 1000, { reapedStatus: (pid) => (pid === process.ppid ? 9 : undefined) }), { pid: process.ppid, wstat: 9 }, 'a pid we reaped ourselves, with its status');
  writeFileSync(f, `${child.pid}\n`);
  t.same(await acceptDaemonPid(f, 1000, { reapedStatus: () => 9 }), { pid: child.pid }, 'a live child wins over an older status under its pid');
  // A grandchild whose parent stays: not ours to wait for, refused at the bound.
  const g = join(dir, 'g.pid');
  const middle = spawn('sh', ['-c', `sleep 60 & echo $! > "${g}"; read _`], { stdio: ['pipe', 'ignore', 'ignore'] });
  t.teardown(() => killAndWait(middle));
  const grandchild = await waitForPidFile(g, 5000);
  t.teardown(() => 'pid' in grandchild && process.kill(grandchild.pid, 'SIGKILL'));
  t.same(await acceptDaemonPid(g, 300), { error: 'foreign', content: `${(grandchild as { pid: number }).pid}\n` }, 'a descendant that never becomes our child');
  const missing = await acceptDaemonPid(join(dir, 'none'), 20);
  t.equal(describePidFileError('x', missing as Exclude<typeof missing, { pid: number }>, 20), 'pid file x does not exist after 20 ms');
});
