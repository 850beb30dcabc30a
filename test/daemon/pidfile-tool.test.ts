import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tryLockWrite } from '../../src/os/native';
import { alive, exitOf, startProcess, tempDir, tether, type Teardown } from '../lib/harness';
import { lines, waitForLine } from './fixtures';

function sleeper(t: Teardown) {
  return startProcess(t, 'sleep', ['1000'], { stdio: 'ignore' });
}

t.test('claim writes the pid, creating the directory', async (t) => {
  const dir = tempDir(t);
  const s = sleeper(t);
  const f = join(dir, 'a', 'b', 'x.pid');
  const r = await tether(['pidfile', 'claim', '--pid', String(s.pid), '--pid-file', f]);
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(f, 'utf8'), `${s.pid}\n`);
});

t.test('claim refuses a locked file, a live owner, a dead claimant; takes over stale files', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'x.pid');
  const owner = sleeper(t);
  const claimant = sleeper(t);
  writeFileSync(f, `${owner.pid}\n`);
  let r = await tether(['pidfile', 'claim', '--pid', String(claimant.pid), '--pid-file', f]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`names pid ${owner.pid}, which is still running`));
  t.equal(readFileSync(f, 'utf8'), `${owner.pid}\n`, 'left alone');

  // The same live pid, but the file is older than the process: a reused pid, a stale file.
  const old = (Date.now() - 60_000) / 1000;
  utimesSync(f, old, old);
  r = await tether(['pidfile', 'claim', '--pid', String(claimant.pid), '--pid-file', f]);
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(f, 'utf8'), `${claimant.pid}\n`);

  const fd = openSync(f, 'r+');
  t.teardown(() => closeSync(fd));
  t.ok(tryLockWrite(fd), 'this test holds the lock');
  r = await tether(['pidfile', 'claim', '--pid', String(owner.pid), '--pid-file', f]);
  t.equal(r.code, 1);
  t.match(r.stderr, /is locked by another process/);
  closeSync(openSync(f, 'r')); // (another fd of ours: an OFD lock survives it)
  r = await tether(['pidfile', 'claim', '--pid', String(owner.pid), '--pid-file', f]);
  t.equal(r.code, 1, 'still locked');

  const gone = spawn('true');
  await exitOf(gone);
  r = await tether(['pidfile', 'claim', '--pid', String(gone.pid), '--pid-file', join(dir, 'y.pid')]);
  t.equal(r.code, 1);
  t.match(r.stderr, /does not exist/);
});

t.test('kill: TERM, and the file is removed', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'x.pid');
  const s = sleeper(t);
  const exited = exitOf(s);
  writeFileSync(f, `${s.pid}\n`);
  const r = await tether(['pidfile', 'kill', '--pid-file', f]);
  t.equal(r.code, 0, r.stderr);
  t.same(await exited, { code: null, signal: 'SIGTERM' });
  t.notOk(existsSync(f));
});

t.test('kill: a file claimed anew while the old process was stopping is left to its new owner', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'x.pid');
  const successor = sleeper(t);
  // The old process hands the pid file on as it stops, as a restart racing a stop would.
  const old = startProcess(t, 'sh', ['-c', `trap 'echo ${successor.pid} > "${f}"; kill -KILL $s; exit 0' TERM; sleep 1000 & s=$!; echo $$ > "${f}"; wait`], { stdio: 'ignore' });
  await waitForLine(f, new RegExp(`^${old.pid}$`));
  const exited = exitOf(old);
  const r = await tether(['pidfile', 'kill', '--pid-file', f]);
  t.equal(r.code, 0, r.stderr);
  t.same(await exited, { code: 0, signal: null });
  t.equal(readFileSync(f, 'utf8'), `${successor.pid}\n`, "the successor's pid file stays");
  t.ok(alive(successor.pid!));
});

t.test('kill: a process that ignores TERM gets QUIT with --show-stacks after the grace, then KILL', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'x.pid');
  const log = join(dir, 'log');
  const stubborn = startProcess(t, process.execPath, ['-e', `
const fs = require('fs');
const note = (s) => fs.appendFileSync(${JSON.stringify(log)}, s + '\\n');
process.on('SIGTERM', () => note('TERM'));
process.on('SIGQUIT', () => note('QUIT'));
note('ready');
setInterval(() => {}, 1 << 30);
`], { stdio: 'ignore' });
  await waitForLine(log, /^ready$/);
  const exited = exitOf(stubborn);
  writeFileSync(f, `${stubborn.pid}\n`);
  const r = await tether(['pidfile', 'kill', '--pid-file', f, '--grace', '300ms', '--show-stacks']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /did not exit within 300 ms of SIGTERM/);
  t.same(await exited, { code: null, signal: 'SIGKILL' });
  t.same(lines(log), ['ready', 'TERM', 'QUIT'], 'TERM, then QUIT for the stacks, then KILL');
  t.notOk(existsSync(f));
});

t.test('kill refuses a pid reused after the file was written, and garbage', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'x.pid');
  const s = sleeper(t);
  writeFileSync(f, `${s.pid}\n`);
  const old = (Date.now() - 60_000) / 1000;
  utimesSync(f, old, old);
  let r = await tether(['pidfile', 'kill', '--pid-file', f]);
  t.equal(r.code, 1);
  t.match(r.stderr, /a reused pid, not signalling it/);
  t.ok(alive(s.pid!), 'the innocent process lives');
  t.ok(existsSync(f), 'the file is left for a human');
  writeFileSync(f, 'pid?\n');
  r = await tether(['pidfile', 'kill', '--pid-file', f]);
  t.equal(r.code, 1);
  t.match(r.stderr, /does not hold a pid/);
});

t.test('kill with nothing to kill: a missing file, a dead pid (file removed)', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'x.pid');
  let r = await tether(['pidfile', 'kill', '--pid-file', f]);
  t.equal(r.code, 0);
  t.match(r.stderr, /does not exist: nothing to stop/);
  const gone = spawn('true');
  await exitOf(gone);
  writeFileSync(f, `${gone.pid}\n`);
  r = await tether(['pidfile', 'kill', '--pid-file', f]);
  t.equal(r.code, 0);
  t.notOk(existsSync(f));
});

t.test('usage', async (t) => {
  for (const args of [[], ['claim'], ['claim', '--pid-file', 'x'], ['claim', '--pid', 'abc', '--pid-file', 'x'], ['kill'], ['kill', '--pid-file', 'x', '--grace', '20'], ['kill', '--pid-file', 'x', '--pid', '3'], ['frob', '--pid-file', 'x'], ['kill', '--pid-file', 'x', '--nope']]) {
    const r = await tether(['pidfile', ...args]);
    t.equal(r.code, 100, `usage: ${args.join(' ')}`);
    t.match(r.stderr, /^tether pidfile: fatal: /);
  }
  const h = await tether(['pidfile', '--help']);
  t.equal(h.code, 0);
  t.match(h.stdout, /^usage: tether pidfile claim/);
});
