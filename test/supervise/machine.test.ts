// Supervisor's state machine in this very process: an injected spawner
// whose processes die when the test says, and a clock that moves when the
// test says. What is on disk (status, death_tally, event/) is real.
import t, { type Test } from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Supervisor, type Spawner, type SupervisorHooks } from '../../src/supervise/supervisor';
import type { MainProcess } from '../../src/supervise/mainprocess';
import { readDeathTally } from '../../src/wire/deathtally';
import { readStatus } from '../../src/wire/status';
import { tempDir } from '../lib/harness';
import { FakeClock } from '../lib/fakeclock';

class FakeProcess implements MainProcess {
  readonly signals: number[] = [];
  private exit: ((wstat: number) => void) | undefined;
  constructor(readonly pid: number, readonly file: string) {}
  kill(sig: number) {
    this.signals.push(sig);
  }
  killGroup(sig: number) {
    this.signals.push(-sig);
  }
  onExit(fn: (wstat: number) => void) {
    this.exit = fn;
  }
  die(wstat: number) {
    this.exit!(wstat);
  }
}

function machine(t: Test, files: Record<string, string> = {}, warnings?: string[]) {
  const dir = join(tempDir(t), 'svc');
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) require('node:fs').writeFileSync(join(dir, name), content);
  const clock = new FakeClock();
  const spawned: FakeProcess[] = [];
  let nextPid = 4_000_000;
  const spawn: Spawner = (_cwd, file) => {
    const p = new FakeProcess(nextPid++, file);
    spawned.push(p);
    return p;
  };
  let exited = false;
  const hooks: SupervisorHooks = {
    warn: (m) => {
      if (!warnings) throw new Error(`unexpected warning: ${m}`);
      warnings.push(m);
    },
    closeStdio: () => {},
    exited: () => { exited = true; },
    adoptedChildren: () => [],
    children: () => [],
  };
  const sup = new Supervisor(dir, hooks, { clock, spawn });
  sup.start();
  t.teardown(() => sup.abandon());
  return { dir, sup, clock, spawned, exited: () => exited };
}

const SIGTERM = 15;
const SIGCONT = 18;
const SIGKILL = 9;

t.test('start, death, the once-a-second throttle, and the death tally', async (t) => {
  const m = machine(t);
  m.clock.advance(0);
  t.equal(m.spawned.length, 1, 'run spawned at start');
  t.equal(m.sup.currentState, 'UP');
  t.equal(readStatus(m.dir).pid, m.spawned[0].pid, 'status names it');
  m.clock.advance(300);
  m.spawned[0].die(7 << 8);
  t.equal(m.sup.currentState, 'DOWN');
  t.same(readDeathTally(m.dir).map((d) => d.exitcode), [7], 'the death is recorded');
  t.equal(m.spawned.length, 1, 'no restart before a second has passed since the start');
  m.clock.advance(699);
  t.equal(m.spawned.length, 1);
  m.clock.advance(1);
  t.equal(m.spawned.length, 2, 'restarted one second after the previous start');
  m.clock.advance(5000);
  m.spawned[1].die(0);
  t.equal(m.spawned.length, 3, 'up for longer than a second: restarted at once');
});

t.test('d: down-signal and SIGCONT, SIGKILL at timeout-kill, a stale death of an old instance ignored', async (t) => {
  const m = machine(t, { 'timeout-kill': '2000\n' });
  m.clock.advance(0);
  const first = m.spawned[0];
  m.sup.commands('d');
  t.same(first.signals, [SIGTERM, SIGCONT], 'TERM then CONT to the pid');
  t.equal(readStatus(m.dir).wantup, false);
  m.clock.advance(1999);
  t.same(first.signals, [SIGTERM, SIGCONT]);
  m.clock.advance(1);
  t.same(first.signals, [SIGTERM, SIGCONT, SIGKILL, SIGCONT], 'SIGKILL at timeout-kill');
  first.die(SIGKILL);
  t.equal(m.sup.currentState, 'DOWN');
  m.sup.commands('u');
  t.equal(m.spawned.length, 2, 'u starts a new instance');
  first.die(0);
  t.equal(m.sup.currentState, 'UP', 'a second death of the old instance changes nothing');
  t.equal(readStatus(m.dir).pid, m.spawned[1].pid);
});

t.test('finish runs after run, and exit 125 from finish clears want-up', async (t) => {
  const m = machine(t, { finish: '' });
  m.clock.advance(0);
  m.clock.advance(2000);
  m.spawned[0].die(1 << 8);
  t.equal(m.spawned[1].file, 'finish', 'finish spawned');
  t.equal(m.sup.currentState, 'FINISH');
  t.equal(readStatus(m.dir).finishing, true);
  m.spawned[1].die(125 << 8);
  t.equal(m.sup.currentState, 'DOWN');
  t.equal(readStatus(m.dir).wantup, false, 'permanent failure: not wanted up');
  m.clock.advance(10_000);
  t.equal(m.spawned.length, 2, 'and not restarted');
});

t.test('SIGTERM: down, then exit once run is dead', async (t) => {
  const m = machine(t);
  m.clock.advance(0);
  m.sup.onSignal('SIGTERM');
  t.equal(m.sup.currentState, 'LASTUP');
  t.same(m.spawned[0].signals, [SIGTERM, SIGCONT]);
  t.notOk(m.exited());
  m.spawned[0].die(SIGTERM);
  t.ok(m.exited(), 'the supervisor has exited');
});

t.test('pidfile: a parent still running at timeout-ready is killed, on the supervisor\'s clock, and the start failed', async (t) => {
  const warnings: string[] = [];
  const m = machine(t, { pidfile: 'app.pid\n', 'timeout-ready': '3000\n' }, warnings);
  m.clock.advance(0);
  const parent = m.spawned[0];
  m.clock.advance(2999);
  t.same(parent.signals, [], 'not before timeout-ready');
  m.clock.advance(1);
  t.same(parent.signals, [-SIGKILL, SIGKILL], 'its group, then itself');
  t.match(warnings, [/run \(pid \d+\) did not exit within timeout-ready: killing it; the start failed/]);
  parent.die(SIGKILL);
  t.match(readDeathTally(m.dir), [{ exitcode: 137, sig: SIGKILL }], 'a failed start is a death');
  t.equal(m.spawned.length, 2, 'and the service is started again, as after any death');
});

t.test('pidfile: the pid file wait is bounded by timeout-ready on the supervisor\'s clock; a d meanwhile signals nobody', async (t) => {
  const warnings: string[] = [];
  const m = machine(t, { pidfile: 'app.pid\n', 'timeout-ready': '3000\n', 'timeout-kill': '1000\n' }, warnings);
  m.clock.advance(0);
  const parent = m.spawned[0];
  parent.die(0);
  t.equal(m.sup.currentState, 'UP', 'the parent exited 0: the pid file is awaited');
  m.sup.commands('d');
  m.clock.advance(1500);
  t.same(parent.signals, [], 'the dead parent\'s pid is never signalled, even at timeout-kill');
  m.clock.advance(1500);
  // The refusal comes through the pid file wait's promise: one turn of the real event loop.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.match(warnings, [/pid file .*app\.pid does not exist after 3000 ms: the service failed \(exit code 104\)/]);
  t.equal(m.sup.currentState, 'DOWN');
  t.match(readDeathTally(m.dir), [{ exitcode: 104, sig: 0 }]);
  t.equal(readStatus(m.dir).wantup, false, 'and it stays down');
});
