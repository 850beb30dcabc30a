// Time faults: the wall clock jumping (a year forward, a year back) during
// the restart throttle and during timeout-kill. Changing the host's clock
// would disturb the machine, and a time namespace (unshare -T) offsets only
// CLOCK_MONOTONIC and CLOCK_BOOTTIME, never the wall clock; so the
// supervisor's state machine runs here in this process on a fake clock whose
// wall time jumps while its monotonic time runs evenly. What it proves: the
// throttle and timeout-kill follow the monotonic clock only, while the
// status stamps follow the wall clock. The jump against a real supervisor
// process is skipped, with that reason.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Supervisor, type Spawner, type SupervisorHooks } from '../../src/supervise/supervisor';
import type { MainProcess } from '../../src/supervise/mainprocess';
import { readStatus } from '../../src/wire/status';
import { tainFromMs, tainToMs } from '../../src/wire/tain';
import { tempDir } from '../lib/harness';
import { FakeClock } from '../lib/fakeclock';
import { recordFigures } from './lib';

const YEAR_MS = 365 * 24 * 3600 * 1000;
const SIGKILL = 9;

/** A fake clock whose wall time can jump; its monotonic time moves only with advance(). */
class JumpingClock extends FakeClock {
  jumpMs = 0;

  override wall() {
    return tainFromMs(1_700_000_000_000 + this.now + this.jumpMs);
  }
}

/** A run process that dies when the test says. */
class Run implements MainProcess {
  readonly signals: number[] = [];
  private exit: ((wstat: number) => void) | undefined;
  constructor(readonly pid: number, readonly file: string) {}
  kill(sig: number) { this.signals.push(sig); }
  killGroup(sig: number) { this.signals.push(-sig); }
  onExit(fn: (wstat: number) => void) { this.exit = fn; }
  die(wstat: number) { this.exit!(wstat); }
}

function supervised(files: Record<string, string>) {
  const dir = join(tempDir(t, 'tether-faults-'), 'svc');
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const clock = new JumpingClock();
  const runs: Run[] = [];
  const spawn: Spawner = (_cwd, file) => {
    runs.push(new Run(5_000_000 + runs.length, file));
    return runs[runs.length - 1];
  };
  const hooks: SupervisorHooks = {
    warn: (m) => { throw new Error(`unexpected warning: ${m}`); },
    closeStdio: () => {},
    exited: () => {},
    adoptedChildren: () => [],
    children: () => [],
  };
  const sup = new Supervisor(dir, hooks, { clock, spawn });
  sup.start();
  t.teardown(() => sup.abandon());
  clock.advance(0);
  return { dir, sup, clock, runs };
}

const outcomes: string[] = [];

for (const jump of [YEAR_MS, -YEAR_MS]) {
  const way = jump > 0 ? 'a year forward' : 'a year back';

  t.test(`the wall clock jumps ${way} during the restart throttle`, async (t) => {
    const m = supervised({});
    m.clock.advance(100);
    m.runs[0].die(1 << 8);
    t.equal(m.runs.length, 1, 'a death 100 ms after the start: the restart waits');
    m.clock.jumpMs = jump;
    m.clock.advance(899);
    t.equal(m.runs.length, 1, 'still waiting 1 ms before the second is up, whatever the wall clock says');
    m.clock.advance(1);
    t.equal(m.runs.length, 2, 'restarted one monotonic second after the start');
    const stamp = tainToMs(readStatus(m.dir).stamp);
    t.ok(Math.abs(stamp - (1_700_000_000_000 + m.clock.now + jump)) < 1000, 'the status stamp follows the wall clock');
  });

  t.test(`the wall clock jumps ${way} during timeout-kill`, async (t) => {
    const m = supervised({ 'timeout-kill': '500\n' });
    m.sup.commands('d');
    m.clock.jumpMs = jump;
    m.clock.advance(499);
    t.notOk(m.runs[0].signals.includes(SIGKILL), 'no SIGKILL before 500 monotonic ms');
    m.clock.advance(1);
    t.ok(m.runs[0].signals.includes(SIGKILL), 'SIGKILL at 500 monotonic ms');
  });
  outcomes.push(way);
}

t.test('a real supervisor process under a wall-clock jump', { skip: 'changing the host clock would disturb the machine, and a time namespace cannot offset the wall clock (CLOCK_REALTIME); the fake clock above stands in' }, async () => {});

t.teardown(() => recordFigures('time', [{
  scenario: `the wall clock jumps ${outcomes.join(' and ')} during the restart throttle and during timeout-kill (the supervisor's state machine on a fake clock)`,
  check: 'restart at 1 monotonic s, SIGKILL at 500 monotonic ms, status stamps on the wall clock',
  tether: outcomes.length === 2 ? 'throttle and timeout-kill on the monotonic clock only' : 'not run',
  s6: null,
}]));
