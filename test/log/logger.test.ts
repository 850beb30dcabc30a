// tether log on its own: lines, never chunks; odd input (1-byte writes, a
// 1 MiB line, a 16 MiB line with -l0, binary bytes, a partial last line);
// SIGTERM finishing the line under way and leaving the rest in the pipe;
// readiness; the processor protocol; the old `-n -s DIR` form.
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, readFileSync, readSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TETHER, exitOf, tempDir, waitForFile } from '../lib/harness';
import { killTree, waitForLines } from '../scan/lib';
import { archives, logdirBytes, stampedLines, tetherLog, waitInDir } from './lib';
import { pipe, pollReadable } from '../../src/os/native';

t.test('stamps each line, ends a partial last line at EOF with a newline, exits 0', async (t) => {
  const dir = join(tempDir(t), 'log');
  const r = await tetherLog(['t', dir], 'one\ntwo\n\nthree');
  t.equal(r.code, 0);
  t.same(stampedLines(dir), ['one', 'two', '', 'three']);
  t.equal(statSync(join(dir, 'current')).mode & 0o100, 0o100, 'current is u+x: finished cleanly');
});

t.test('the old form -n N -s S DIR is the script nN sS t DIR', async (t) => {
  const dir = join(tempDir(t), 'log');
  const input = Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n') + '\n';
  t.equal((await tetherLog(['-s', '4096', '-n', '1000', dir], input)).code, 0);
  const names = archives(dir);
  t.ok(names.length > 10, `rotated into ${names.length} archives`);
  for (const a of names) t.ok(statSync(join(dir, a)).size <= 4096, `${a} is within the size`);
  t.same(stampedLines(dir), input.trim().split('\n'), 'every line, in order, stamped');
  const dir2 = join(tempDir(t), 'log');
  await tetherLog(['-s', '4096', '-n', '2', dir2], input);
  t.equal(archives(dir2).length, 2, '-n 2 keeps two archives');
});

t.test('1-byte writes make whole lines, one stamp each', async (t) => {
  const dir = join(tempDir(t), 'log');
  const child = spawn(process.execPath, [TETHER, 'log', 't', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  const text = 'split across many writes\nand another one\n';
  for (const ch of text) {
    await new Promise<void>((res) => child.stdin!.write(ch, () => res()));
  }
  child.stdin!.end();
  t.equal((await exitOf(child)).code, 0);
  t.same(stampedLines(dir), ['split across many writes', 'and another one']);
});

t.test('binary bytes are stored verbatim; -l splits exactly; -l0 passes a 16 MiB line; a 1 MiB line with -l0', async (t) => {
  const root = tempDir(t);
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 10));
  const input = Buffer.concat([binary, Buffer.from('\n')]);
  t.equal((await tetherLog([join(root, 'b')], input)).code, 0);
  t.same(readFileSync(join(root, 'b', 'current')), input, 'every byte but newline, as written');

  const long = Buffer.alloc(1000, 'x');
  await tetherLog(['-l', '300', join(root, 'l')], Buffer.concat([long, Buffer.from('\n')]));
  t.same(readFileSync(join(root, 'l', 'current'), 'latin1').split('\n').map((l) => l.length), [300, 300, 300, 100, 0], '-l300: 300+300+300+100');

  const mib = Buffer.alloc(1 << 20, 'm');
  await tetherLog(['-l0', join(root, 'm')], Buffer.concat([mib, Buffer.from('\nafter\n')]));
  t.equal(logdirBytes(join(root, 'm')).toString('latin1'), `${mib.toString()}\nafter\n`, 'a 1 MiB line, whole');

  const big = Buffer.alloc(16 << 20, 'z');
  const r = await tetherLog(['-l0', 's268435455', join(root, 'z')], Buffer.concat([big, Buffer.from('\n')]), { ms: 120_000 });
  t.equal(r.code, 0);
  const got = readFileSync(join(root, 'z', 'current'));
  t.equal(got.length, big.length + 1, 'a 16 MiB line, whole');
  t.equal(got.indexOf(10), big.length, 'one line');

  const def = await tetherLog([join(root, 'd')], Buffer.concat([Buffer.alloc(20000, 'q'), Buffer.from('\n')]));
  t.equal(def.code, 0);
  t.same(readFileSync(join(root, 'd', 'current'), 'latin1').split('\n').map((l) => l.length), [8192, 8192, 3616, 0], 'the default -l is 8192');
});

t.test('SIGTERM: the partial line is finished from the pipe, what follows stays there; -d says ready once the logdir is open', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'log');
  const [r, w] = pipe();
  const [nr, nw] = pipe();
  const child = spawn(process.execPath, [TETHER, 'log', '-d', '3', 't', dir], { stdio: [r, 'ignore', 'pipe', nw] });
  t.teardown(() => child.kill('SIGKILL'));
  closeSync(nw);
  const ready = Buffer.alloc(8);
  // Blocking read of the notification pipe: the newline comes once the logdir is set up.
  const n = require('node:fs').readSync(nr, ready, 0, 8, null) as number;
  t.equal(ready.toString('latin1', 0, n), '\n', 'readiness: one newline');
  t.ok(existsSync(join(dir, 'current')), 'current exists when readiness is signalled');
  writeSync(w, 'complete\nhalf a ');
  await waitForLines(join(dir, 'current'), 1);
  child.kill('SIGTERM');
  // The rest of the line, then a line for the next logger.
  writeSync(w, 'line\nfor the next logger\n');
  t.equal((await exitOf(child)).code, 0);
  const logged = stampedLines(dir);
  t.same(logged.slice(0, 2), ['complete', 'half a line'], 'the line under way was finished from the pipe');
  // The signal and the next line race: the line is either logged (read before the signal
  // was handled) or left whole in the pipe for the next logger. Never both, never torn.
  closeSync(w);
  const rest = Buffer.alloc(100);
  const left = require('node:fs').readSync(r, rest, 0, 100, null) as number;
  t.same([...logged.slice(2).map((l) => `${l}\n`), rest.toString('latin1', 0, left)].join(''), 'for the next logger\n', 'the next line exactly once, whole');
  for (const fd of [r, nr]) closeSync(fd);
});

t.test('SIGTERM with a line that never ends: -t bounds the wait, the line is written with a newline', async (t) => {
  const dir = join(tempDir(t), 'log');
  const [r, w] = pipe();
  const child = spawn(process.execPath, [TETHER, 'log', '-t', '200', 't', dir], { stdio: [r, 'ignore', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  writeSync(w, 'one\nunfinished');
  await waitForLines(join(dir, 'current'), 1);
  child.kill('SIGTERM');
  t.equal((await exitOf(child)).code, 0);
  t.same(stampedLines(dir), ['one', 'unfinished']);
  for (const fd of [r, w]) closeSync(fd);
});

t.test('processors: fd 0 previous, 1 processed, 4 state, 5 newstate, cwd the logdir; a failure is run again after r ms', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'log');
  const input = Array.from({ length: 400 }, (_, i) => `line ${i}`).join('\n') + '\n';
  // Counts its runs in state (fd 4 -> fd 5); fails on its first run.
  const proc = `?n=$(cat <&4); n=$((n+1)); echo $n >&5; pwd > ../cwd; [ -e ../failed ] || { touch ../failed; exit 1; }; tr a-z A-Z`;
  const r = await tetherLog(['s4096', 'r50', proc, dir], input);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /processor failed/, 'the failure is reported');
  t.equal(readFileSync(join(root, 'cwd'), 'utf8').trim(), dir, 'cwd is the logdir');
  const names = archives(dir);
  t.ok(names.length >= 1, `${names.length} processed archives`);
  t.match(readFileSync(join(dir, names[0]), 'utf8'), /^LINE 0\n/, 'the archive is the processor\'s output');
  // The failed run's newstate is not kept: state counts the runs that succeeded.
  t.equal(Number(readFileSync(join(dir, 'state'), 'utf8')), names.length, 'state carried from run to run');
  t.same(readdirSync(dir).filter((n) => ['previous', 'processed', 'newstate'].includes(n)), [], 'no rotation left half done');
  t.equal(logdirBytes(dir).toString(), input.toUpperCase().slice(0, -readFileSync(join(dir, 'current')).length || undefined) + readFileSync(join(dir, 'current'), 'utf8'), 'every line, processed or in current');
});

t.test('! runs the processor through execlineb', { skip: !existsSync('/usr/bin/execlineb') && 'no execline' }, async (t) => {
  const dir = join(tempDir(t), 'log');
  const r = await tetherLog(['s4096', '!tr a-z A-Z', dir], Array.from({ length: 1000 }, (_, i) => `l${i}`).join('\n') + '\n');
  t.equal(r.code, 0, r.stderr);
  t.match(readFileSync(join(dir, archives(dir)[0]), 'utf8'), /^L0\n/);
});

t.test('SIGALRM rotates now; a second logger on a locked logdir exits 111', async (t) => {
  const dir = join(tempDir(t), 'log');
  const [r, w] = pipe();
  const child = spawn(process.execPath, [TETHER, 'log', 't', dir], { stdio: [r, 'ignore', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  writeSync(w, 'before\n');
  await waitForLines(join(dir, 'current'), 1);
  t.equal((await tetherLog([dir], 'x\n')).code, 111, 'locked');
  child.kill('SIGALRM');
  await waitInDir(dir, () => archives(dir).length === 1, 'the rotation');
  writeSync(w, 'after\n');
  closeSync(w);
  t.equal((await exitOf(child)).code, 0);
  t.equal(readFileSync(join(dir, archives(dir)[0]), 'latin1').slice(26), 'before\n');
  t.equal(readFileSync(join(dir, 'current'), 'latin1').slice(26), 'after\n');
  closeSync(r);
});

t.test('R rotates on a timer; -p ignores SIGTERM, SIGHUP still ends it', async (t) => {
  const dir = join(tempDir(t), 'log');
  const [r, w] = pipe();
  const child = spawn(process.execPath, [TETHER, 'log', '-p', 'R1', 't', dir], { stdio: [r, 'ignore', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  writeSync(w, 'first\n');
  await waitForLines(join(dir, 'current'), 1);
  await waitInDir(dir, () => archives(dir).length >= 1, 'the R1 rotation');
  t.equal(readFileSync(join(dir, archives(dir)[0]), 'latin1').slice(26), 'first\n', 'R1: rotated after a second');
  child.kill('SIGTERM');
  writeSync(w, 'still logging\n');
  await waitForLines(join(dir, 'current'), 1, /still logging/);
  t.equal(child.exitCode, null, '-p: SIGTERM ignored');
  child.kill('SIGHUP');
  t.equal((await exitOf(child)).code, 0, 'SIGHUP ends it');
  for (const fd of [r, w]) closeSync(fd);
});

t.test('-b: nothing is read while a logdir cannot write (a processor runs)', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'log');
  const [r, w] = pipe();
  // The processor waits for a file the test creates: the rotation is held up until then.
  const child = spawn(process.execPath, [TETHER, 'log', '-b', 's4096', `?while [ ! -e ../go ]; do sleep 0.05; done; cat`, 't', dir], { stdio: [r, 'ignore', 'pipe'] });
  // A failed run must not leave the processor looping: it and its children go by pid too.
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) killTree(child.pid!);
  });
  writeSync(w, `${'a'.repeat(2100)}\n`); // past s - l: a rotation, held by the processor
  await waitForFile(join(dir, 'current'));
  await waitInDir(dir, () => existsSync(join(dir, 'processed')), 'the processor');
  writeSync(w, 'waits in the pipe\n');
  // Still unread: with -b the logger reads again only once the logdir can write. The test
  // holds the read end too, so it can look: the line is there for it to take.
  t.ok(pollReadable(r, 0), 'the line is still in the pipe');
  const buf = Buffer.alloc(100);
  t.equal(buf.toString('latin1', 0, readSync(r, buf, 0, 100, null)), 'waits in the pipe\n', 'unread by the logger');
  writeSync(w, 'and this\n');
  require('node:fs').writeFileSync(join(root, 'go'), '');
  closeSync(w);
  t.equal((await exitOf(child)).code, 0);
  t.same(stampedLines(dir).slice(-1), ['and this'], 'read and written once the rotation finished');
  closeSync(r);
});
