// Resource faults, injected from outside, against tether and Debian's s6:
// supervise/ on a full filesystem, and a service directory made read-only
// under a running supervisor. Checked from /proc, since the status cannot be
// written: the supervisor lives on, commands still act, a killed service
// comes back, never two instances; once the fault ends, the next event
// brings the status back in line.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { childrenOf } from '../../src/os/proc';
import { mkfifo } from '../../src/os/native';
import { BOUND_MS, TETHER, alive, tether } from '../lib/harness';
import { S6_LOG, stampedLines } from '../log/lib';
import { FAULT_MARK, fillUp, Findings, IMPLS, instancesOf, mountTmpfs, NeighbourProbe, oneServiceTree, recordFigures, recoveryMs, until, upInLine, upPid, writeAllToFifo, type Impl, allowFileTime } from './lib';

/** Under load this file took 115-170 s: twice that and more, before it counts as hung. */
allowFileTime(600_000);

/** Lines the producer writes into a full logdir: 11 MB, far past a logger's buffer and the 64 KiB pipe. */
const LOG_LINES = 100_000;
/** What follows each line's number, so that the lines are long. */
const PAD = ` ${'x'.repeat(99)}`;
/** How long the s6 row waits for s6-supervise to recover from fd exhaustion (it retries a minute later). */
const S6_RECOVERY_CAP_MS = 10_000;
/** How long a fault is held before it ends: a window to show nothing finishes meanwhile, not a wait for an event. */
const HOLD_MS = 2000;

const ROOT_ONLY = { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' };
const found = new Findings();
/** What the neighbour figure in each row is. */
const NEIGHBOUR = 'a healthy neighbour\'s svc -wu latency during the fault';

/**
 * Time from now until `dir` is up with a correct status, with no command
 * sent, as a figure. tether must get there (it retries a failed status
 * write); s6-supervise writes its status at its next event or retries a
 * spawn a minute later, so its wait is capped and reported, not failed.
 */
async function recoveredUnaided(impl: Impl, dir: string, id: string): Promise<string> {
  const at = performance.now();
  if (impl === 'tether') return `up with a correct status ${(await recoveryMs(dir, id, at)).toFixed(0)} ms after`;
  return until(() => upInLine(dir, id), S6_RECOVERY_CAP_MS, 'up with a correct status')
    .then(() => `up with a correct status ${(performance.now() - at).toFixed(0)} ms after`, () => `still not up with a correct status ${S6_RECOVERY_CAP_MS / 1000} s after`);
}

/** The lowest fd number `pid` has free, the fewest seen over `ms` (a status write in flight holds one for a moment). */
async function settledLowestFreeFd(pid: number, ms: number): Promise<number> {
  const lowest = () => {
    const open = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
    let n = 0;
    while (open.has(n)) n++;
    return n;
  };
  const end = Date.now() + ms;
  let fewest = lowest();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
    fewest = Math.min(fewest, lowest());
  }
  return fewest;
}

for (const impl of IMPLS) {
  t.test(`${impl}: supervise/ on a full filesystem`, ROOT_ONLY, async (t) => {
    const { dir, id, sampler, sup, pid: first, neighbour } = await oneServiceTree(t, impl, 'full', { prepare: (d) => mountTmpfs(t, join(d, 'supervise'), '256k'), neighbour: true });
    const probe = await NeighbourProbe.start(t, neighbour as string);
    const fill = fillUp(join(dir, 'supervise'));
    process.kill(first, 'SIGKILL');
    await until(() => instancesOf(id).some((p) => p !== first), BOUND_MS, 'the service restarted');
    t.equal((await tether(['svc', '-d', dir])).code, 0, 'svc -d sent');
    await until(() => instancesOf(id).length === 0, BOUND_MS, 'the service down after svc -d');
    t.ok(alive(sup), 'the supervisor lives on with its status unwritable');
    rmSync(fill);
    const at = performance.now();
    t.equal((await tether(['svc', '-wu', '-T', String(BOUND_MS), '-u', dir], { timeout: 2 * BOUND_MS })).code, 0, 'up again once there is room');
    const svcMs = performance.now() - at;
    const ms = await recoveryMs(dir, id, at);
    const neighbourMs = await probe.finish(t);
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    found.note('full', impl, `supervisor alive, restart and d obeyed; svc -wu ${svcMs.toFixed(0)} ms after the fault, up with a correct status ${ms.toFixed(0)} ms after; ${neighbourMs}`);
  });

  t.test(`${impl}: the service directory made read-only under its supervisor`, ROOT_ONLY, async (t) => {
    // Immutable (chattr +i), not a read-only mount: a filesystem with files open for writing (the
    // supervisor's lock) cannot be remounted read-only, and a read-only bind mount over the
    // directory does not reach a supervisor that has chdir'd into it (s6-supervise). On a tmpfs
    // of its own, which takes the flag from Linux 6.0 on.
    const { dir, id, sampler, sup, pid: first, neighbour } = await oneServiceTree(t, impl, 'ro', { neighbour: true, prepare: (d) => mountTmpfs(t, d, '4m') });
    const frozen = [dir, join(dir, 'supervise')];
    try {
      execFileSync('chattr', ['+i', ...frozen], { stdio: 'pipe' });
    } catch (err) {
      t.pass('a read-only service directory', { skip: `chattr +i is refused here: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` });
      return;
    }
    let readOnly = true;
    const writable = () => {
      if (readOnly) execFileSync('chattr', ['-i', ...frozen]);
      readOnly = false;
    };
    t.teardown(writable);
    const probe = await NeighbourProbe.start(t, neighbour as string);
    process.kill(first, 'SIGKILL');
    await until(() => instancesOf(id).some((p) => p !== first), BOUND_MS, 'the service restarted on a read-only directory');
    t.equal(upPid(dir), first, 'the fault took: the status could not be written, it still names the killed instance');
    t.ok(alive(sup), 'the supervisor lives on');
    writable();
    // Recovered without a command: the status written once the directory is writable again.
    const recovery = await recoveredUnaided(impl, dir, id);
    const at = performance.now();
    t.equal((await tether(['svc', '-wr', '-T', String(BOUND_MS), '-r', dir], { timeout: 2 * BOUND_MS })).code, 0, 'restarted once writable again');
    const ms = performance.now() - at;
    await until(() => upInLine(dir, id), BOUND_MS, 'the status in line');
    const neighbourMs = await probe.finish(t);
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    found.note('ro', impl, `supervisor alive, restart obeyed; ${recovery} with no command; svc -wr ${ms.toFixed(0)} ms; ${neighbourMs}`);
  });
}

/** '@' + 24 hex digits + ' ' + 'line NNNNNN' + PAD + newline. */
const STAMPED_LINE_BYTES = 26 + 12 + 100;
/** The stamped 'started' line. */
const STARTED_BYTES = 26 + 8;

/** Bytes in the logdir's files but the fill. */
function logdirSize(dir: string): number {
  return readdirSync(dir).filter((n) => n === 'current' || n.startsWith('@')).reduce((sum, n) => {
    try {
      return sum + statSync(join(dir, n)).size;
    } catch {
      return sum; // current renamed by a rotation between the listing and the stat: counted at the next look
    }
  }, 0);
}

/** The soft and hard open-files limits of `pid`. */
function nofile(pid: number): [string, string] {
  const line = readFileSync(`/proc/${pid}/limits`, 'latin1').split('\n').find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').split(/\s{2,}/).slice(1, 3);
  return [soft, hard];
}

/** True while `pid` sits in write(2) (syscall 1 on x86_64, 64 on aarch64). */
function blockedInWrite(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/syscall`, 'latin1').split(' ')[0] === (process.arch === 'arm64' ? '64' : '1');
  } catch {
    return false;
  }
}

for (const impl of IMPLS) {
  t.test(`${impl}: fd exhaustion (prlimit) on a running supervisor`, async (t) => {
    const { dir, id, sampler, sup, pid: first, statusReader, neighbour } = await oneServiceTree(t, impl, 'fds', { neighbour: true });
    const probe = await NeighbourProbe.start(t, neighbour as string);
    const reader = statusReader();
    const [soft, hard] = nofile(sup);
    // No fd number free: every new open, pipe or socket fails with EMFILE. The limit is the lowest
    // free number once settled, not the count at one instant, which may include a write in flight.
    execFileSync('prlimit', ['--pid', String(sup), `--nofile=${await settledLowestFreeFd(sup, 300)}:${hard}`]);
    let limited = true;
    const restore = () => {
      if (limited && alive(sup)) execFileSync('prlimit', ['--pid', String(sup), `--nofile=${soft}:${hard}`]);
      limited = false;
    };
    t.teardown(restore);
    process.kill(first, 'SIGKILL');
    await until(() => !alive(first), BOUND_MS, 'the killed instance gone');
    // A command too: sent while it has no fd to spare, it must still act once fds are free.
    await writeAllToFifo(join(dir, 'supervise', 'control'), Buffer.from('u'));
    await new Promise((r) => setTimeout(r, HOLD_MS));
    t.ok(alive(sup), 'the supervisor lives on without a free fd');
    const during = instancesOf(id).length;
    restore();
    const recovery = await recoveredUnaided(impl, dir, id);
    reader.stop();
    const neighbourMs = await probe.finish(t);
    t.ok(alive(sup), 'the supervisor lives on');
    t.equal(sampler.maxOf(id), 1, 'never two instances');
    t.equal(reader.torn, 0, `no status read torn (${reader.reads})`);
    found.note('fds', impl, `alive; ${during} instance(s) while no fd was free; ${recovery}; ${reader.torn} torn of ${reader.reads} status reads; ${neighbourMs}`);
  });

  t.test(`${impl}: a full logdir: the producer blocks, nothing lost when space returns`, ROOT_ONLY, async (t) => logfull(t, impl));
}

/**
 * A service writing numbered lines through its logger into a logdir on a
 * tmpfs that the test fills first: the logger cannot write, stops reading,
 * the pipe fills and the producer blocks in write(2). Space freed, every
 * line must arrive, once, in order.
 */
async function logfull(t: Test, impl: Impl): Promise<void> {
  let go = '';
  const logger = impl === 'tether' ? `${process.execPath} ${TETHER} log` : S6_LOG;
  const { dir, id, sampler, statusReader, neighbour } = await oneServiceTree(t, impl, 'logfull', {
    neighbour: true,
    prepare: (d) => {
      mountTmpfs(t, join(d, 'log', 'main'), '32m');
      go = join(d, '..', '..', 'go');
      mkfifo(go, 0o600);
    },
    // Says it started, waits for the test's go (the logdir is full by then), writes numbered lines, then lives on.
    run: (mark) => ['#!/bin/sh', 'exec 2>&1', 'echo started', `read x < ${go}`, `seq -f 'line %06.0f${PAD}' 1 ${LOG_LINES}`, `exec /usr/bin/env ${FAULT_MARK}=${mark} sleep 1000000`, ''].join('\n'),
    // log/run runs in log/: its logdir is log/main, the tmpfs.
    files: { 'log/run': `#!/bin/sh\nexec ${logger} n1000 t ./main\n` },
    up: false,
  });
  const logdir = join(dir, 'log', 'main');
  await until(() => upPid(dir) > 0, BOUND_MS, 'the producer started');
  await until(() => existsSync(join(logdir, 'current')) && readFileSync(join(logdir, 'current'), 'latin1').endsWith(' started\n'), BOUND_MS, 'the logger writing');
  const fill = fillUp(logdir);
  const reader = statusReader();
  const probe = await NeighbourProbe.start(t, neighbour as string);
  await writeAllToFifo(go, Buffer.from('go\n'));
  const producer = () => childrenOf(upPid(dir)).find((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'latin1').trim() === 'seq';
    } catch {
      return false; // gone meanwhile
    }
  });
  // Blocked now and still after the hold: sampled, since a blocked write sends no event.
  const blocked = await until(() => { const p = producer(); return p !== undefined && blockedInWrite(p); }, HOLD_MS * 5, 'the producer blocked in write')
    .then(async () => { await new Promise((r) => setTimeout(r, HOLD_MS)); const p = producer(); return p !== undefined && blockedInWrite(p); }, () => false);
  // The logger stops reading at its bound; the producer waits only if its stdout is blocking (a
  // non-blocking log pipe, set by Node in the supervisor, once made it fail with EAGAIN and lose lines).
  // s6-log without -b reads on into memory: only tether's logger has a bound to block at.
  if (impl === 'tether') t.ok(blocked, 'the producer is blocked in write while the logdir is full');
  const at = performance.now();
  rmSync(fill);
  await until(() => instancesOf(id).length === 1, 4 * BOUND_MS, 'the producer done');
  // A bounded wait, then the count: what is missing is reported line by line below.
  const complete = await until(() => logdirSize(logdir) >= LOG_LINES * STAMPED_LINE_BYTES + STARTED_BYTES, 2 * BOUND_MS, 'every byte logged')
    .then(() => true, () => false);
  const ms = performance.now() - at;
  reader.stop();
  const neighbourMs = await probe.finish(t);
  const [first, ...lines] = stampedLines(logdir);
  t.equal(first, 'started', 'the line written before the fault first');
  t.ok(complete, 'every byte logged');
  t.equal(lines.length, LOG_LINES, `every line (first ${JSON.stringify(lines[0]?.slice(0, 11))}, last ${JSON.stringify(lines[lines.length - 1]?.slice(0, 11))})`);
  const wrong = lines.findIndex((l, i) => l !== `line ${String(i + 1).padStart(6, '0')}${PAD}`);
  t.equal(wrong, -1, 'in order, once each, none torn');
  t.equal(sampler.maxOf(id), 1, 'never two instances');
  t.equal(reader.torn, 0, `no status read torn (${reader.reads})`);
  found.note('logfull', impl, `producer ${blocked ? 'blocked' : 'not blocked'} while full; ${lines.length} of ${LOG_LINES} lines, ${wrong === -1 ? 'in order, once each' : `wrong from line ${wrong + 1}`}; ${complete ? `all logged ${ms.toFixed(0)} ms after space returned` : `not all logged ${(ms / 1000).toFixed(0)} s after space returned`}; ${neighbourMs}`);
}

t.teardown(() => {
  const row = found.row.bind(found);
  recordFigures('resources', [
    row('full', 'supervise/ on a full tmpfs: the service killed, then svc -d, then room again and svc -wu -u', `supervisor alive, commands obeyed, never two instances; svc -wu latency and recovery to up with a correct status after; ${NEIGHBOUR}`),
    row('fds', 'fd exhaustion: prlimit --nofile on the running supervisor down to the fds it has, its service killed and u sent, for 2 s; then the limit restored', `supervisor alive, never two instances, no torn status; recovery to up with a correct status after, no command sent (s6 capped at ${S6_RECOVERY_CAP_MS / 1000} s); ${NEIGHBOUR}`),
    row('logfull', `a full logdir (a tmpfs the test fills) while the service writes ${LOG_LINES} numbered lines; then space freed`, `the producer blocks (in write, seen in /proc); every line once, in order; time to all logged; ${NEIGHBOUR}`),
    row('ro', 'the service directory and its supervise/ made read-only (chattr +i: nothing can be created, renamed or removed there): the service killed, then writable again', `supervisor alive, restart obeyed, never two instances; recovery to up with a correct status, no command sent (s6 capped at ${S6_RECOVERY_CAP_MS / 1000} s); svc -wr latency after; ${NEIGHBOUR}`),
  ]);
});
