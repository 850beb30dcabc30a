// The sd_notify parser and drop rules (systemd's), the watchdog and the
// health-check logic on a fake clock, and the access rules on real processes.
import t from 'tap';
import { dropReason, parseMessage, usecToMs } from '../../src/notify/message';
import { Watchdog } from '../../src/notify/watchdog';
import { HealthCheck, type CheckProcess, type CheckResult } from '../../src/notify/health';
import { belongsToService, senderAllowed } from '../../src/notify/access';
import { spawnProgram, waitpidNohang } from '../../src/os/native';
import { FakeClock } from '../lib/fakeclock';
import { waitForProc } from '../supervise/lib';

const cred = { pid: 1, uid: 0, gid: 0 };
const dgram = (text: string | Buffer, extra: Partial<{ truncated: boolean; controlTruncated: boolean; cred: unknown }> = {}) => ({
  payload: Buffer.isBuffer(text) ? text : Buffer.from(text), truncated: false, controlTruncated: false, cred, ...extra,
});

t.test('READY=1 with and without its trailing newline, and after STATUS', async (t) => {
  t.ok(parseMessage(Buffer.from('READY=1')).ready, 'no newline (libsystemd sends it so)');
  t.ok(parseMessage(Buffer.from('READY=1\n')).ready);
  const m = parseMessage(Buffer.from('STATUS=x\nREADY=1'));
  t.ok(m.ready);
  t.equal(m.status, 'x');
  t.notOk(parseMessage(Buffer.from('READY=0')).ready);
  t.notOk(parseMessage(Buffer.from('READY=1 ')).ready, 'the value is exactly 1');
  t.notOk(parseMessage(Buffer.from('XREADY=1\nREADY')).ready);
  t.ok(parseMessage(Buffer.from('READY=1\0')).ready, 'one trailing NUL is tolerated, as systemd does');
});

t.test('unknown keys are ignored; the first of a repeated key wins', async (t) => {
  const m = parseMessage(Buffer.from('X_CUSTOM=1\nSTATUS=first\nSTATUS=second\nnonsense\n=x\n'));
  t.equal(m.status, 'first');
  t.notOk(m.ready);
});

t.test('every key systemd defines that tether acts on', async (t) => {
  const m = parseMessage(Buffer.from([
    'STOPPING=1', 'RELOADING=1', 'MONOTONIC_USEC=123456789', 'MAINPID=4242', 'WATCHDOG=1', 'WATCHDOG_USEC=2500',
    'EXTEND_TIMEOUT_USEC=30000000', 'ERRNO=2', 'EXIT_STATUS=3', 'FDSTORE=1',
  ].join('\n')));
  t.match(m, { stopping: true, reloading: true, monotonicUsec: 123456789n, mainPid: 4242, watchdog: 'ping', watchdogUsec: 2500n, extendTimeoutUsec: 30000000n, errno: 2, exitStatus: 3, fdStore: true });
  t.equal(parseMessage(Buffer.from('WATCHDOG=trigger')).watchdog, 'trigger');
  t.equal(parseMessage(Buffer.from('WATCHDOG=2')).watchdog, undefined);
  t.equal(parseMessage(Buffer.from('MAINPID=0')).mainPid, undefined, 'pid 0 is not a process');
  t.equal(parseMessage(Buffer.from('MAINPID=-5')).mainPid, undefined);
  t.equal(parseMessage(Buffer.from('WATCHDOG_USEC=99999999999999999999999')).watchdogUsec, undefined, 'beyond 64 bits');
  t.equal(parseMessage(Buffer.from('EXIT_STATUS=256')).exitStatus, undefined);
  t.equal(parseMessage(Buffer.from(`STATUS=caf\xe9`, 'latin1')).status, undefined, 'invalid UTF-8 is ignored');
  t.equal(parseMessage(Buffer.from('STATUS=café ✓')).status, 'café ✓');
});

t.test('BARRIER=1 alone is a barrier; with other keys it is not', async (t) => {
  t.ok(parseMessage(Buffer.from('BARRIER=1')).barrierOnly);
  t.ok(parseMessage(Buffer.from('BARRIER=1\n')).barrierOnly);
  const m = parseMessage(Buffer.from('BARRIER=1\nREADY=1'));
  t.notOk(m.barrierOnly);
  t.ok(m.barrier && m.ready);
});

t.test('drop rules: too long, cut control data, embedded NUL, no credentials', async (t) => {
  t.equal(dropReason(dgram('READY=1')), undefined);
  t.equal(dropReason(dgram(Buffer.alloc(4096, 0x41))), undefined, '4096 bytes is the limit, and fits');
  t.equal(dropReason(dgram(Buffer.alloc(4096, 0x41), { truncated: true })), 'too long', 'the kernel cut it (MSG_TRUNC)');
  t.equal(dropReason(dgram('READY=1', { controlTruncated: true })), 'truncated control data');
  t.equal(dropReason(dgram('RE\0ADY=1')), 'embedded NUL');
  t.equal(dropReason(dgram('READY=1\0')), undefined);
  t.equal(dropReason(dgram('READY=1', { cred: undefined })), 'no credentials');
});

t.test('µs become whole ms, rounded up and capped', async (t) => {
  t.equal(usecToMs(1n), 1);
  t.equal(usecToMs(1000n), 1);
  t.equal(usecToMs(1001n), 2);
  t.equal(usecToMs(10n ** 15n), 2 ** 31 - 1);
});

t.test('watchdog: armed at readiness, reset by pings, fires once per arming', async (t) => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const w = new Watchdog(clock, (why) => fired.push(why));
  w.setPeriod(100);
  w.ping();
  clock.advance(1000);
  t.same(fired, [], 'not armed before readiness: pings and silence mean nothing');
  w.arm();
  clock.advance(60);
  w.ping();
  clock.advance(60);
  w.ping();
  clock.advance(99);
  t.same(fired, [], 'each ping restarts the period');
  clock.advance(1);
  t.same(fired, ['timeout']);
  t.notOk(w.isArmed);
  clock.advance(1000);
  t.same(fired, ['timeout'], 'once: the service is being taken down');
});

t.test('watchdog: WATCHDOG=trigger fires at once, WATCHDOG_USEC= retimes, disarm stops', async (t) => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const w = new Watchdog(clock, (why) => fired.push(why));
  w.setPeriod(100);
  w.arm();
  w.trigger();
  t.same(fired, ['trigger']);
  w.arm();
  clock.advance(50);
  w.setPeriod(500);
  clock.advance(499);
  t.same(fired, ['trigger'], 'the new period counts from the change');
  clock.advance(1);
  t.same(fired, ['trigger', 'timeout']);
  w.arm();
  w.disarm();
  clock.advance(10_000);
  t.same(fired, ['trigger', 'timeout']);
  t.equal(clock.pending, 0);
});

/** A check process the test finishes by hand. */
class FakeCheck implements CheckProcess {
  static next = 1000;
  readonly pid = FakeCheck.next++;
  killed: number[] = [];
  private exit: ((wstat: number) => void) | undefined;
  killGroup(sig: number) {
    this.killed.push(sig);
    this.exit?.(sig);
  }
  onExit(fn: (wstat: number) => void) {
    this.exit = fn;
  }
  exitWith(code: number) {
    this.exit?.(code << 8);
  }
}

function healthRig(retries: number, timeoutMs = 0) {
  const clock = new FakeClock();
  const checks: FakeCheck[] = [];
  const results: CheckResult[] = [];
  const events: string[] = [];
  const h = new HealthCheck({
    timers: clock,
    spawn: () => {
      const c = new FakeCheck();
      checks.push(c);
      return c;
    },
    intervalMs: 100,
    timeoutMs,
    retries,
    onResult: (r) => results.push(r),
    onReady: () => events.push('ready'),
    onUnhealthy: (n) => events.push(`unhealthy ${n}`),
  });
  return { clock, checks, results, events, h };
}

t.test('check: polled until it passes, then ready; without health-retries no more checks', async (t) => {
  const { clock, checks, events, h } = healthRig(0);
  h.start();
  t.equal(checks.length, 0, 'the first check waits one interval');
  clock.advance(100);
  checks[0].exitWith(1);
  clock.advance(100);
  checks[1].exitWith(0);
  t.same(events, ['ready']);
  clock.advance(10_000);
  t.equal(checks.length, 2, 'readiness only, as s6-notifyoncheck');
});

t.test('check: with health-retries, that many failures in a row take the service down', async (t) => {
  const { clock, checks, events, results, h } = healthRig(3);
  h.start();
  clock.advance(100);
  checks.at(-1)!.exitWith(0);
  for (const code of [1, 1, 0, 2, 2]) {
    clock.advance(100);
    checks.at(-1)!.exitWith(code);
  }
  t.same(events, ['ready'], 'a success in between resets the count');
  clock.advance(100);
  checks.at(-1)!.exitWith(2);
  t.same(events, ['ready', 'unhealthy 3']);
  t.same(results.map((r) => r.failures), [0, 1, 2, 0, 1, 2, 3]);
  clock.advance(10_000);
  t.equal(checks.length, 7, 'no check after the verdict');
});

t.test('check: a hanging check is killed at check-timeout and counts as a failure', async (t) => {
  const { clock, checks, results, h } = healthRig(0, 250);
  h.start();
  clock.advance(100);
  clock.advance(249);
  t.same(checks[0].killed, []);
  clock.advance(1);
  t.same(checks[0].killed, [9], 'SIGKILL to its group');
  t.match(results[0], { ok: false, timedOut: true, failures: 1 });
  clock.advance(100);
  t.equal(checks.length, 2, 'and the polling goes on');
  h.stop();
  t.same(checks[1].killed, [9], 'stop kills a running check');
  clock.advance(10_000);
  t.equal(checks.length, 2);
});

t.test('access: main, exec, all against real processes', async (t) => {
  // A session leader (as run is) with a child: the child is `exec`, not `main`.
  const run = spawnProgram({ path: '/bin/sh', argv: ['sh', '-c', 'sleep 300 & wait'], env: process.env, fds: new Map() });
  t.teardown(() => {
    try {
      process.kill(-run, 'SIGKILL');
    } catch {
      // gone
    }
    waitForProc(() => waitpidNohang(run) !== null, 'run reaped').catch(() => undefined);
  });
  let child = 0;
  await waitForProc(() => {
    const { childrenOf } = require('../../src/os/proc') as typeof import('../../src/os/proc');
    child = childrenOf(run)[0] ?? 0;
    return child > 0;
  }, 'the child of run');
  const procs = { main: [run], exec: [run] };
  t.ok(senderAllowed('main', run, procs));
  t.notOk(senderAllowed('main', child, procs), 'main: the child is refused');
  t.ok(senderAllowed('exec', child, procs), 'exec: run\'s descendant');
  t.notOk(senderAllowed('exec', process.pid, procs), 'exec: a foreign process is refused');
  t.ok(senderAllowed('all', process.pid, procs), 'all: whoever reaches the socket');
  t.ok(belongsToService(child, procs));
  t.notOk(belongsToService(process.pid, procs));
  t.notOk(belongsToService(999_999_999, procs), 'a pid that does not exist');
});
