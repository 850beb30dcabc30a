// Loggers and the scanner: a removed pair, a replaced log directory, a left
// behind process holding a log pipe, the catch-all logger; and the scanner's
// retries and exit codes where s6-svscan has them.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf } from '../../src/os/proc';
import { BOUND_MS, TETHER, type Teardown, alive, bounded, exitOf, makeService, tempDir, tether, writeScript } from '../lib/harness';
import { startScanner, supervisorsOf, waitExit, waitForLines, waitUp } from './lib';

/** Prints "line N" twenty times a second. */
const CHATTY = 'i=0\nwhile :; do i=$((i+1)); echo "line $i"; sleep 0.05; done';
const CAT_LOGGER = 'exec cat >> out';

/** A scanner on `foo` (CHATTY) and `foo/log` (CAT_LOGGER), once the first line is logged. */
async function chattyPair(t: Teardown) {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  makeService(join(scandir, 'foo'), CHATTY);
  makeService(join(scandir, 'foo', 'log'), CAT_LOGGER);
  const sc = await startScanner(t, scandir);
  await waitForLines(join(scandir, 'foo', 'log', 'out'), 1, /^line /);
  return { root, scandir, sc };
}

t.test('svscanctl -h on a removed service with a logger: both supervisors exit', async (t) => {
  const { root, scandir, sc } = await chattyPair(t);
  const [producer] = supervisorsOf(sc.pid, 'foo');
  const [logger] = supervisorsOf(sc.pid, 'foo/log');
  renameSync(join(scandir, 'foo'), join(root, 'foo'));
  t.equal((await tether(['svscanctl', '-h', scandir])).code, 0);
  await waitExit(t, producer);
  await waitExit(t, logger);
  t.pass('the producer\'s supervisor exited, and the logger\'s, once its input ended');
  t.same(childrenOf(sc.pid), [], 'no supervisor left');
});

t.test('a replaced log directory: one logger at a time, the new one from -h on', async (t) => {
  const { root, scandir, sc } = await chattyPair(t);
  const [oldLogger] = supervisorsOf(sc.pid, 'foo/log');
  renameSync(join(scandir, 'foo', 'log'), join(root, 'old-log'));
  makeService(join(scandir, 'foo', 'log'), CAT_LOGGER);
  t.equal((await tether(['svscanctl', '-a', scandir])).code, 0);
  t.equal((await tether(['svscanctl', '-z', scandir])).code, 0, 'a second command: the first was handled');
  t.same(supervisorsOf(sc.pid, 'foo/log'), [oldLogger], 'a rescan starts no second logger on the same pipe');
  t.match(sc.output().stderr, /foo\/log: a new logger directory; it starts once the old logger's supervisor has exited/);
  t.equal((await tether(['svscanctl', '-h', scandir])).code, 0);
  await waitExit(t, oldLogger);
  await waitForLines(join(scandir, 'foo', 'log', 'out'), 1, /^line /);
  const now = supervisorsOf(sc.pid, 'foo/log');
  t.equal(now.length, 1, 'one logger');
  t.not(now[0], oldLogger, 'the new one');
});

t.test('a process left by a service whose supervisor was killed does not hold up the shutdown', async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  // The background sleep keeps the log pipe's write end, in the service's process group.
  makeService(join(scandir, 'foo'), `sleep 100003 & echo $! > ${root}/bg\nexec sleep 100004`);
  makeService(join(scandir, 'foo', 'log'), CAT_LOGGER);
  const sc = await startScanner(t, scandir);
  await waitUp(join(scandir, 'foo'));
  const bg = Number((await waitForLines(join(root, 'bg'), 1, /^\d+$/))[0]);
  t.teardown(() => { if (alive(bg)) process.kill(bg, 'SIGKILL'); });
  const [sup] = supervisorsOf(sc.pid, 'foo');
  process.kill(sup, 'SIGKILL');
  await waitExit(t, bg);
  t.pass('the orphaned service\'s process group was stopped with it');
  const ex = await sc.stop();
  t.equal(ex.code, 0, 'svscanctl -t: the scanner exits');
});

t.test('an entry that cannot be stat\'ed is tried again', async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  mkdirSync(scandir, { recursive: true });
  symlinkSync(join(root, 'later'), join(scandir, 'later'));
  const sc = await startScanner(t, scandir);
  t.match(sc.output().stderr, /unable to stat later: ENOENT; skipping it, trying again in 3 s/);
  makeService(join(root, 'later'), 'exec sleep 1000');
  await waitUp(join(scandir, 'later'));
  t.equal(supervisorsOf(sc.pid, 'later').length, 1, 'supervised once its target exists, with no svscanctl -a');
});

t.test('the catch-all logger s6-svscan-log is told to drain (SIGHUP) at shutdown, as loggers are', async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  const marks = join(root, 'marks');
  // A stand-in supervisor that records the signal the scanner sends it.
  const fake = join(root, 'fake-supervise');
  writeScript(fake, `name=$1
trap 'echo "$name HUP" >> ${marks}; kill -KILL $s; exit 0' HUP
trap 'echo "$name TERM" >> ${marks}; kill -KILL $s; exit 0' TERM
sleep 1000 & s=$!
echo "$name up" >> ${marks}
wait`);
  for (const name of ['s6-svscan-log', 'web']) makeService(join(scandir, name), 'exec sleep 1000');
  const child = spawn(process.execPath, [TETHER, 'svscan', '--supervisor', fake, scandir], { stdio: 'ignore' });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  await waitForLines(marks, 2, / up$/);
  t.equal((await tether(['svscanctl', '-t', scandir])).code, 0);
  t.equal((await exitOf(child)).code, 0);
  const lines = (await waitForLines(marks, 4)).sort();
  t.same(lines, ['s6-svscan-log HUP', 's6-svscan-log up', 'web TERM', 'web up']);
});

t.test('exit codes as s6-svscan\'s: .s6-svscan not a directory 100; finish that cannot run 111; svscanctl on no SCANDIR 111', async (t) => {
  const root = tempDir(t);
  const notDir = join(root, 'a');
  mkdirSync(notDir);
  writeFileSync(join(notDir, '.s6-svscan'), '');
  let r = await tether(['svscan', notDir]);
  t.equal(r.code, 100);
  t.match(r.stderr, /\.s6-svscan exists and is not a directory/);

  const scandir = join(root, 'b');
  makeService(join(scandir, 'x'), 'exec sleep 1000');
  mkdirSync(join(scandir, '.s6-svscan'));
  writeFileSync(join(scandir, '.s6-svscan', 'finish'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(scandir, '.s6-svscan', 'finish'), 0o644);
  const sc = await startScanner(t, scandir);
  const ex = await sc.stop();
  t.equal(ex.code, 111, 'a finish that cannot run is a failure');
  t.match(sc.output().stderr, /unable to run .*\/\.s6-svscan\/finish: EACCES/);

  r = await tether(['svscanctl', '-a', join(root, 'nowhere')]);
  t.equal(r.code, 111);
  t.match(r.stderr, /^tether svscanctl: fatal: unable to control .*nowhere: ENOENT/);
  r = await bounded(tether(['svscanctl', '-a', notDir]), BOUND_MS, 'svscanctl');
  t.equal(r.code, 100, 'a SCANDIR with no scanner is 100');
});
