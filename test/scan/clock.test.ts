// The scanner's timers on a fake clock (issue 9): the respawn throttle, the
// shutdown grace and the second Ctrl-C move only when the test moves time.
// The supervisors are fakes: handles that record what they are told.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Scanner } from '../../src/scan/scanner';
import type { SupervisedService, SupervisorEnd, SupervisorHandle, SupervisorLauncher } from '../../src/scan/handle';
import { FakeClock } from '../lib/fakeclock';
import { tempDir, type Teardown } from '../lib/harness';

class FakeSupervisor implements SupervisorHandle {
  readonly signals: string[] = [];
  killed = false;
  private end: ((end: SupervisorEnd) => void) | null = null;
  constructor(readonly svc: SupervisedService) {}
  signal(sig: 'SIGTERM' | 'SIGHUP'): void {
    this.signals.push(sig);
  }
  kill(): void {
    this.killed = true;
  }
  onEnd(fn: (end: SupervisorEnd) => void): void {
    this.end = fn;
  }
  exit(code: number): void {
    this.end?.({ kind: 'exit', code, signal: null, reported: true });
  }
}

function setUp(t: Teardown, graceMs = 5000) {
  const scandir = join(tempDir(t), 'scan');
  mkdirSync(join(scandir, 'a'), { recursive: true });
  const clock = new FakeClock();
  const launched: FakeSupervisor[] = [];
  const launcher: SupervisorLauncher = {
    launch: (svc) => {
      const sup = new FakeSupervisor(svc);
      launched.push(sup);
      return sup;
    },
  };
  const warnings: string[] = [];
  const scanner = new Scanner({ scandir, rescanMs: 0, maxServices: 10, watch: false, launcher, graceMs, clock, warn: (m) => warnings.push(m) });
  return { scanner, clock, launched, warnings };
}

t.test('a dead supervisor is started again 1 s after its last start, by the clock', async (t) => {
  const { scanner, clock, launched } = setUp(t);
  scanner.scan();
  t.equal(launched.length, 1, 'one supervisor for a');
  clock.advance(300);
  launched[0].exit(111);
  t.equal(launched.length, 1, 'not at once');
  clock.advance(699);
  t.equal(launched.length, 1, 'not before 1 s since its start');
  clock.advance(1);
  t.equal(launched.length, 2, 'at 1 s');
  scanner.command('b');
  await scanner.ended;
});

t.test('shutdown: a service gets -K, then it is named; a second SIGINT after a second kills and leaves', async (t) => {
  const { scanner, clock, launched, warnings } = setUp(t, 5000);
  scanner.scan();
  const sup = launched[0];
  scanner.signal('SIGINT');
  t.same(sup.signals, ['SIGTERM'], 'the supervisor got SIGTERM');
  clock.advance(500);
  scanner.signal('SIGINT');
  t.notOk(sup.killed, 'a SIGINT within a second of the first is the same Ctrl-C');
  clock.advance(4499);
  t.same(warnings, [], 'nothing before -K');
  clock.advance(1);
  t.match(warnings, [/^a did not stop within 5000 ms \(svscan -K\): /], 'at -K: one line naming it');
  scanner.signal('SIGINT');
  t.ok(sup.killed, 'a second Ctrl-C kills the supervisor');
  t.match(warnings[1], /^a second interrupt: killing a and exiting$/);
  await scanner.ended;
  t.pass('and the scanner ends without waiting for it');
});

t.test('shutdown ends when the last supervisor has exited; its grace timer goes', async (t) => {
  const { scanner, clock, launched, warnings } = setUp(t, 5000);
  scanner.scan();
  scanner.command('t');
  launched[0].exit(0);
  await scanner.ended;
  t.equal(clock.pending, 0, 'no timer left');
  t.same(warnings, []);
});
