// The logger beside Debian's s6-log (2.11), in one run:
// - throughput: 10^6 lines of 100 bytes through a pipe into one logdir with
//   the script `t s1000000 n20`, for `tether log`, `s6-log` and `cat > file`:
//   lines/s and the consumer's CPU seconds (user + system);
// - memory during a disk-full stall (a small tmpfs, full): how much the
//   logger's resident memory grew while its producer kept writing. tether's
//   goal: at most its documented buffer bound plus 10 MiB; s6-log without -b
//   keeps reading and grows with what it could not write.
// Run alone with `node scripts/bench.mjs log`. The stall part needs root (mount).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const TETHER = join(ROOT, 'bin', 'tether.js');
const S6_LOG = '/usr/bin/s6-log';
const LINES = 1_000_000;
const BOUND_MIB = 1; // LOGDIR_BUFFER_BOUND in src/log/logger.ts

/** 10^6 lines of 100 bytes (99 and a newline), numbered. */
function makeInput(path) {
  const fd = openSync(path, 'w');
  const pad = 'x'.repeat(99);
  const block = [];
  for (let i = 0; i < LINES; i++) {
    block.push(`${String(i).padStart(9, '0')} ${pad.slice(10)}\n`);
    if (block.length === 10_000) {
      writeSync(fd, block.join(''));
      block.length = 0;
    }
  }
  closeSync(fd);
}

/** `cat input | CONSUMER`; the consumer's own CPU from `times` in a subshell around it. */
function throughput(input, consumer) {
  const t0 = performance.now();
  const out = execFileSync('/bin/sh', ['-c', `cat "$1" | ( ${consumer} ; times >&2 ) 2>&1 >/dev/null | tail -1`, 'sh', input], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const secs = (performance.now() - t0) / 1000;
  // `times`: the subshell's children, as "1m2.345s 0m0.123s".
  const [user, sys] = out.trim().split(/\s+/).map((v) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(v);
    return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  });
  return { linesPerSec: LINES / secs, cpu: user + sys, secs };
}

function rssMiB(pid) {
  const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The logger's resident memory before and during a stall on a full tmpfs:
 * a producer writes 40 MiB of lines as fast as the pipe takes them.
 */
async function stallGrowth(dir, cmd, args) {
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
  const pids = [];
  try {
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
    } catch {
      // ENOSPC: full, as intended
    }
    const logger = spawn(cmd, [...args, join(mnt, 'log')], { stdio: ['pipe', 'ignore', 'ignore'] });
    pids.push(logger.pid);
    logger.stdin.on('error', () => {});
    await sleep(1000);
    const idle = rssMiB(logger.pid);
    const producer = spawn('/bin/sh', ['-c', `yes '${'y'.repeat(99)}' | head -c ${40 << 20}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    pids.push(producer.pid);
    producer.stdout.pipe(logger.stdin);
    // Until the producer stops getting through (the logger no longer reads), or 20 s.
    let peak = idle;
    let stable = 0;
    for (let i = 0; i < 200 && stable < 10; i++) {
      await sleep(100);
      const now = rssMiB(logger.pid);
      stable = now <= peak + 0.1 ? stable + 1 : 0;
      peak = Math.max(peak, now);
    }
    return peak - idle;
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(300);
    execFileSync('umount', ['-l', mnt]);
  }
}

export async function run(report) {
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-log-'));
  try {
    const input = join(dir, 'input');
    makeInput(input);
    const script = 't s1000000 n20';
    const results = {};
    for (const [name, consumer] of [
      ['cat', `cat > "${join(dir, 'cat.out')}"`],
      ['s6', `${S6_LOG} ${script} "${join(dir, 's6')}"`],
      ['tether', `${process.execPath} ${TETHER} log ${script} "${join(dir, 'tether')}"`],
    ]) {
      results[name] = throughput(input, consumer);
    }
    const { cat, s6, tether } = results;
    console.log(`cat > file: ${Math.round(cat.linesPerSec)} lines/s, ${cat.cpu.toFixed(2)} s CPU`);
    report.row('log: 10^6 x 100-byte lines, t s1000000 n20 (lines/s)', tether.linesPerSec, s6.linesPerSec, 'lines/s', { text: '>= 0.5 x s6-log', test: (a, b) => a >= 0.5 * b });
    report.row('log: CPU seconds for those lines', tether.cpu, s6.cpu, 's');
    if (process.getuid?.() === 0) {
      const tGrow = await stallGrowth(join(dir, 'st'), process.execPath, [TETHER, 'log', 't']);
      const sGrow = await stallGrowth(join(dir, 'ss'), S6_LOG, ['t']);
      report.row('log: RSS growth during a disk-full stall (MiB)', tGrow, sGrow, 'MiB', { text: `<= bound (${BOUND_MIB} MiB) + 10 MiB`, test: (a) => a <= BOUND_MIB + 10 });
    } else {
      console.log('log: disk-full stall skipped (needs root to mount a tmpfs)');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
