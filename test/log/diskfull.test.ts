// A full file system (a small tmpfs this test mounts): the logger retries
// every r ms, stops reading once its buffer bound is reached so that the
// producer blocks in write(2), keeps its memory bounded, and once space is
// freed every line arrives, once and in order.
import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, readFileSync, readSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TETHER, alive, bounded, exitOf, makeService, tempDir } from '../lib/harness';
import { O_NONBLOCK, mkfifo, pipe } from '../../src/os/native';
import { childrenOf } from '../../src/os/proc';
import { startScanner } from '../scan/lib';
import { stampedLines } from './lib';

const LINES = 150_000; // about 5 MiB stamped: well past the 1 MiB bound and the 64 KiB pipe

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1]);
}

/** True while `pid` sits in write(2) (syscall 1 on x86_64, 64 on aarch64). */
function blockedInWrite(pid: number): boolean {
  const nr = readFileSync(`/proc/${pid}/syscall`, 'latin1').split(' ')[0];
  return nr === (process.arch === 'arm64' ? '64' : '1');
}

/** Checks `ok` at most every 50 ms until it holds: /proc has no events to wait on. */
async function until(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  await bounded((async () => {
    while (!ok()) await new Promise((r) => setTimeout(r, 50));
  })(), ms, what);
}

t.test('disk full: the producer blocks, memory stays bounded, every line arrives once space is freed', { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' }, async (t) => {
  const root = tempDir(t);
  const mnt = join(root, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
  t.teardown(() => execFileSync('umount', ['-l', mnt]));
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // ENOSPC: the file system is full, as wanted
  }
  const [r, w] = pipe();
  const [nr, nw] = pipe();
  const logger = spawn(process.execPath, [TETHER, 'log', '-d', '3', 'r100', 'n1000', 't', join(mnt, 'log')], { stdio: [r, 'ignore', 'pipe', nw] });
  t.teardown(() => logger.kill('SIGKILL'));
  let stderr = '';
  logger.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  closeSync(nw);
  // Ready: the logger has started and set up its logdir (a blocking read of its notification pipe).
  t.equal(readSync(nr, Buffer.alloc(1), 0, 1, null), 1, 'ready');
  closeSync(nr);
  const idle = rssKiB(logger.pid!);
  // The producer writes with plain blocking write(2)s.
  const producer = spawn('seq', ['-f', 'line %06.0f', '1', String(LINES)], { stdio: ['ignore', w, 'ignore'] });
  t.teardown(() => producer.kill('SIGKILL'));
  closeSync(r);
  closeSync(w);

  await until(() => /unable to write to .*ENOSPC/.test(stderr), 'the logger to hit ENOSPC');
  await until(() => blockedInWrite(producer.pid!), 'the producer to block in write');
  t.equal(producer.exitCode, null, 'the producer is blocked, not finished');
  const stalled = rssKiB(logger.pid!);
  t.ok(stalled - idle <= (1 + 10) * 1024, `the logger grew by ${((stalled - idle) / 1024).toFixed(1)} MiB while stalled (bound 1 MiB + 10)`);
  t.equal(logger.exitCode, null, 'the logger keeps running');

  unlinkSync(join(mnt, 'filler'));
  t.equal((await exitOf(producer, 120_000)).code, 0, 'the producer finishes once space is freed');
  t.equal((await exitOf(logger, 120_000)).code, 0, 'the logger exits at EOF');
  const lines = stampedLines(join(mnt, 'log'));
  t.equal(lines.length, LINES, `every line (first ${JSON.stringify(lines.slice(0, 2))}, last ${JSON.stringify(lines.slice(-2))})`);
  t.ok(lines.every((l, i) => l === `line ${String(i + 1).padStart(6, '0')}`), 'in order, once each, none torn');
});

// The same full logdir with the logger a service's log/run under tether svscan: the producer's
// stdout is then a pipe it shares (one open file description) with its supervisor's fd 1, and
// Node sets O_NONBLOCK on any pipe it wraps in a stream. A preload that touches process.stdout
// (an APM agent; tap's own NODE_OPTIONS does it too) made the producer's writes fail with EAGAIN:
// seq quit after a few hundred lines, which were all the logdir ever got. The logger's own
// pipe-fed case above could not see it.
t.test('disk full under tether svscan: the producer blocks in a blocking write, every line arrives', { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' }, async (t) => {
  const lines = 50_000; // 1.8 MiB stamped: past the 1 MiB bound and the 64 KiB pipe
  const root = tempDir(t);
  const svc = join(root, 'scan', 'svc');
  const logdir = join(svc, 'log', 'main');
  const go = join(root, 'go');
  const preload = join(root, 'wrap-stdout.cjs');
  writeFileSync(preload, 'process.stdout; process.stderr;\n');
  mkfifo(go, 0o600);
  makeService(svc, ['#!/bin/sh', 'exec 2>&1', `echo $$ > ${join(root, 'shell.pid')}`, 'echo started', `read x < ${go}`, `seq -f 'line %06.0f' 1 ${lines}`, 'exec sleep 1000000', ''].join('\n'), {
    'log/run': `#!/bin/sh\nexec ${process.execPath} ${TETHER} log r100 n1000 t ./main\n`,
  });
  mkdirSync(logdir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', logdir]);
  t.teardown(() => execFileSync('umount', ['-l', logdir]));
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require=${preload}`.trim() };
  await startScanner(t, join(root, 'scan'), { env });
  await until(() => existsSync(join(logdir, 'current')) && readFileSync(join(logdir, 'current'), 'latin1').endsWith(' started\n'), 'the logger writing');
  const filler = join(logdir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // ENOSPC: the file system is full, as wanted
  }
  // Space back however the test ends: a logger with lines it cannot write does not exit, nor its tree.
  try {
    await producerBlocks(t, root, go);
  } finally {
    rmSync(filler, { force: true });
  }
  // Polled while the logger rotates: a file renamed between listing and reading is read next time.
  const count = () => { try { return logged(logdir).length; } catch { return -1; } };
  await until(() => count() === lines, 'every line logged once space is freed', 120_000);
  const got = logged(logdir);
  t.ok(got.every((l, i) => l === `line ${String(i + 1).padStart(6, '0')}`), 'in order, once each, none torn');
});

/** Lets the service write, and checks it waits in a blocking write on its stdout. */
async function producerBlocks(t: Test, root: string, go: string): Promise<void> {
  writeFileSync(go, 'go\n');
  const shell = Number(readFileSync(join(root, 'shell.pid'), 'latin1'));
  let seq = 0;
  await until(() => (seq = childrenOf(shell)[0] ?? 0) > 0 && blockedInWrite(seq), 'the producer to block in write');
  const flags = Number.parseInt(/^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/${seq}/fdinfo/1`, 'latin1'))?.[1] ?? '0', 8);
  t.equal(flags & O_NONBLOCK, 0, `the producer's stdout is blocking (flags 0${flags.toString(8)})`);
  t.ok(alive(seq), 'the producer waits, not gone');
}

/** The numbered lines in `dir`, archives first. */
function logged(dir: string): string[] {
  return stampedLines(dir).filter((l) => l.startsWith('line '));
}
