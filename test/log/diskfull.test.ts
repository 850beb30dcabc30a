// A full file system (a small tmpfs this test mounts): the logger retries
// every r ms, stops reading once its buffer bound is reached so that the
// producer blocks in write(2), keeps its memory bounded, and once space is
// freed every line arrives, once and in order.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, readFileSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TETHER, bounded, exitOf, tempDir } from '../lib/harness';
import { pipe } from '../../src/os/native';
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
