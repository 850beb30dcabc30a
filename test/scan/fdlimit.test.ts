// Services get the open-files limit that the tree was started with, as under
// s6, although Node raises its own soft limit to the hard one at start-up:
// run, finish, a logger and a service with a watchdog (run through a shell
// for WATCHDOG_PID) each report `ulimit -Sn`, and /proc/PID/limits says the
// same. The same tree under s6-svscan, with the same prlimit, is the
// reference. TETHER_MODE=shared (test/shared/scan-fdlimit) runs it all again
// with every supervisor inside the scanner.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HAVE_S6, ROOT, S6_BIN, TETHER, alive, exitOf, makeService, run, startProcess, tempDir, tether, waitForFile, writeScript, type Teardown } from '../lib/harness';
import { descendants, startScanner } from './lib';

const SHARED = process.env.TETHER_MODE === 'shared';
/** Dropped by /bin/sh (dash), kept by bash and by posix_spawn: tells whether a shell stood between supervisor and run. */
const PROBE = 'tether.probe';

interface Limits {
  soft: number;
  hard: number;
}

function limitsOf(pid: number | 'self'): Limits {
  const m = /^Max open files\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'));
  if (!m) throw new Error(`no numeric open-files limit for ${pid}`);
  return { soft: Number(m[1]), hard: Number(m[2]) };
}

/** A hard limit we may set for a child (ours or less), kept small. */
const HARD = Math.min(limitsOf('self').hard, 4096);

/** `NAME` written by a script as one line, atomically (temp file, then mv). */
function record(out: string, name: string, value: string): string {
  return `echo "${value}" > ${out}/${name}.tmp && mv ${out}/${name}.tmp ${out}/${name}`;
}

/**
 * a (run, finish, a logger), w (a watchdog: WATCHDOG_PID set by a shell),
 * p (a bash run that lists its environment), and the scanner's own
 * .s6-svscan/finish.
 */
function makeTree(scandir: string, out: string): void {
  writeScript(join(scandir, '.s6-svscan', 'finish'), `#!/bin/sh\n${record(out, 'svscan.finish', '$(ulimit -Sn)')}\n`);
  makeService(join(scandir, 'a'), `${record(out, 'a.run', '$(ulimit -Sn) $$')}\nenv > ${out}/a.env\nexec sleep 100000`, {
    finish: `#!/bin/sh\n${record(out, 'a.finish', '$(ulimit -Sn)')}\n`,
    'log/run': `#!/bin/sh\n${record(out, 'log.run', '$(ulimit -Sn) $$')}\nexec cat > /dev/null\n`,
  });
  makeService(join(scandir, 'w'), `${record(out, 'w.run', '$(ulimit -Sn) $$ $WATCHDOG_PID')}\nexec sleep 100000`, {
    'watchdog-usec': '600000000\n',
  });
  makeService(join(scandir, 'p'), `#!/bin/bash\nenv > ${out}/p.env.tmp && mv ${out}/p.env.tmp ${out}/p.env\nexec sleep 100000\n`);
}

function words(out: string, name: string): string[] {
  return readFileSync(join(out, name), 'utf8').trim().split(' ');
}

interface Observed {
  run: number;
  /** /proc/PID/limits of run's process, which exec'd into sleep. */
  runProcess: Limits;
  finish: number;
  logger: number;
  loggerProcess: Limits;
  watchdog: number;
  /** WATCHDOG_PID is the service's own pid. */
  watchdogPidIsOwn: boolean;
  runEnv: string;
  bashEnv: string;
  /** .s6-svscan/finish, once the tree has stopped. */
  scannerFinish?: number;
}

/** Waits for the tree's reports, takes a down (for finish), and reads them all. */
async function observe(scandir: string, out: string): Promise<Observed> {
  for (const f of ['a.run', 'a.env', 'log.run', 'w.run', 'p.env']) await waitForFile(join(out, f));
  const [runLimit, runPid] = words(out, 'a.run').map(Number);
  const [logger, loggerPid] = words(out, 'log.run').map(Number);
  const [watchdog, wPid, wWatchdogPid] = words(out, 'w.run');
  const observed = {
    run: runLimit,
    runProcess: limitsOf(runPid),
    logger,
    loggerProcess: limitsOf(loggerPid),
    watchdog: Number(watchdog),
    watchdogPidIsOwn: wPid === wWatchdogPid,
    runEnv: readFileSync(join(out, 'a.env'), 'utf8'),
    bashEnv: readFileSync(join(out, 'p.env'), 'utf8'),
  };
  const down = await tether(['svc', '-d', join(scandir, 'a')]);
  if (down.code !== 0) throw new Error(`svc -d: ${down.stderr}`);
  await waitForFile(join(out, 'a.finish'));
  return { ...observed, finish: Number(words(out, 'a.finish')[0]) };
}

interface TetherStart {
  args?: string[];
  /**
   * `command`: bin/tether.js run as a command, which records the limit
   * itself (over a stale TETHER_NOFILE from an outer tether). `node`: `node
   * bin/tether.js` with TETHER_NOFILE already set, as svscan starts a
   * supervisor: no shell before node, so PROBE reaches run unless a shell
   * stands between supervisor and run.
   */
  via: 'command' | 'node';
}

/** The tree under `prlimit --nofile=SOFT:HARD` tether svscan. */
async function underTether(t: Teardown, soft: number, start: TetherStart): Promise<{ observed: Observed; supervisors: Limits[]; scanner: Limits }> {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  makeTree(scandir, root);
  const prlimit = ['prlimit', `--nofile=${soft}:${HARD}`, '--'];
  const command = start.via === 'command' ? [...prlimit, TETHER] : [...prlimit, process.execPath, TETHER];
  const env = { ...process.env, [PROBE]: 'kept', TETHER_NOFILE: start.via === 'command' ? '99' : String(soft) };
  const sc = await startScanner(t, scandir, { prefix: command, args: start.args, env });
  const observed = await observe(scandir, root);
  const supervisors = SHARED ? [] : ['a', 'a/log', 'w', 'p'].map((name) => limitsOf(supervisorPid(sc.pid, name)));
  const scanner = limitsOf(sc.pid);
  await sc.stop();
  await waitForFile(join(root, 'svscan.finish'));
  return { observed: { ...observed, scannerFinish: Number(words(root, 'svscan.finish')[0]) }, supervisors, scanner };
}

/** The supervisor (a direct child of the scanner) whose last argument is `name`. */
function supervisorPid(scanner: number, name: string): number {
  const pid = descendants(scanner).find((p) => {
    try {
      if (readFileSync(`/proc/${p}/stat`, 'latin1').split(') ')[1].split(' ')[1] !== String(scanner)) return false;
      const argv = readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0').filter(Boolean);
      return argv[argv.length - 1] === name;
    } catch {
      return false; // exited since it was listed (a finish script's shell): no supervisor
    }
  });
  if (pid === undefined) throw new Error(`no supervisor for ${name} under ${scanner}`);
  return pid;
}

/** The same tree under `prlimit --nofile=SOFT:HARD s6-svscan`. */
async function underS6(t: Teardown, soft: number): Promise<Observed> {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  makeTree(scandir, root);
  const child = startProcess(t, 'prlimit', [`--nofile=${soft}:${HARD}`, '--', join(S6_BIN, 's6-svscan'), scandir], { stdio: 'ignore', env: { ...process.env, [PROBE]: 'kept' } });
  const pid = child.pid as number;
  let seen: number[] = [];
  t.teardown(() => {
    for (const p of seen) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  let observed: Observed;
  try {
    observed = await observe(scandir, root);
  } finally {
    seen = descendants(pid);
    await run(join(S6_BIN, 's6-svscanctl'), ['-t', scandir]);
    await exitOf(child);
  }
  await waitForFile(join(root, 'svscan.finish'));
  return { ...observed, scannerFinish: Number(words(root, 'svscan.finish')[0]) };
}

/** s6 2.11 has no watchdog: its WATCHDOG_PID is not checked. */
function checkServices(t: Test, o: Observed, soft: number, supervisor: 'tether' | 's6' = 'tether'): void {
  t.equal(o.run, soft, 'run: ulimit -Sn');
  t.same(o.runProcess, { soft, hard: HARD }, 'run: /proc/PID/limits');
  t.equal(o.finish, soft, 'finish: ulimit -Sn');
  t.equal(o.logger, soft, 'the logger: ulimit -Sn');
  t.same(o.loggerProcess, { soft, hard: HARD }, 'the logger: /proc/PID/limits');
  t.equal(o.watchdog, soft, 'a service with a watchdog: ulimit -Sn');
  if (supervisor === 'tether') t.ok(o.watchdogPidIsOwn, 'and WATCHDOG_PID is still its own pid');
  t.notMatch(o.runEnv, /^TETHER_NOFILE=/m, 'services do not see TETHER_NOFILE');
  t.equal(o.scannerFinish, soft, 'the scanner\'s .s6-svscan/finish: ulimit -Sn');
}

const soft = 700;
t.test(`prlimit --nofile=${soft}:${HARD}: every service gets ${soft}, as under s6-svscan`, { skip: (HARD <= soft && `hard limit ${HARD} too low`) || (!HAVE_S6 && 'no s6') }, async (t) => {
  const tether = await underTether(t, soft, { via: 'node' });
  const s6 = await underS6(t, soft);
  checkServices(t, tether.observed, soft);
  checkServices(t, s6, soft, 's6');
  t.equal(tether.observed.run, s6.run, 'the same ulimit -Sn as under s6-supervise');
  if (SHARED) {
    t.same(tether.scanner, { soft, hard: HARD }, 'the shared scanner runs at the started limit: its 4 services fit under it');
  } else {
    t.same(tether.supervisors, Array(4).fill({ soft, hard: HARD }), 'each supervisor runs at the started limit, as s6-supervise does');
  }
  t.match(tether.observed.bashEnv, new RegExp(`^${PROBE.replace('.', '\\.')}=kept$`, 'm'), 'so run is spawned directly, no shell in between');
});

// tether started as a command (bin/tether.js records the limit). 40 is below
// what a supervisor process may need for itself: it keeps the raised limit
// and gives each child the started one through a shell.
t.test('bin/tether.js as a command under prlimit --nofile=40: every service gets 40', async (t) => {
  const tether = await underTether(t, 40, { via: 'command' });
  checkServices(t, tether.observed, 40);
  if (SHARED) t.same(tether.scanner, { soft: HARD, hard: HARD }, 'the shared scanner keeps the raised limit: 4 services do not fit under 40');
  else t.same(tether.supervisors, Array(4).fill({ soft: HARD, hard: HARD }), 'the supervisors keep the raised limit');
});

t.test('soft limit equal to the hard one: services get it, with nothing spawned in between', async (t) => {
  const tether = await underTether(t, HARD, { via: 'node' });
  checkServices(t, tether.observed, HARD);
  t.match(tether.observed.bashEnv, new RegExp(`^${PROBE.replace('.', '\\.')}=kept$`, 'm'), 'run is spawned directly (a shell would drop the probe)');
});

t.test('svscan --supervisor s6-supervise: its services get the started limit too', { skip: (SHARED && 'per-process only') || (!HAVE_S6 && 'no s6') }, async (t) => {
  const tether = await underTether(t, soft, { via: 'command', args: ['--supervisor', join(S6_BIN, 's6-supervise')] });
  checkServices(t, tether.observed, soft, 's6');
  t.same(tether.supervisors, Array(4).fill({ soft, hard: HARD }), 's6-supervise starts at the started limit');
});

/**
 * `prlimit LIMIT -- TETHER... supervise DIR` with TETHER_NOFILE=`recorded` and
 * `extraFds` more fds inherited, on a service whose run records its
 * `ulimit -Sn`; `stop()` checks that `svc -dx` ends it with 0. Both the
 * supervisor and the service are killed at teardown if still alive.
 */
async function superviseUnderPrlimit(t: Test, limit: string, tetherCmd: string[], recorded: string, extraFds = 0) {
  const root = tempDir(t);
  const dir = makeService(join(root, 'svc'), `${record(root, 'run', '$(ulimit -Sn) $$')}\nexec sleep 100000`);
  const child = spawn('prlimit', [limit, '--', ...tetherCmd, 'supervise', dir], {
    stdio: ['ignore', 'ignore', 'ignore', ...Array<'ignore' | number>(extraFds).fill(0)],
    env: { ...process.env, TETHER_NOFILE: recorded },
  });
  let service = 0;
  t.teardown(() => {
    for (const p of [child.pid as number, service]) if (p && alive(p)) process.kill(p, 'SIGKILL');
  });
  await waitForFile(join(root, 'run'));
  const [runLimit, pid] = words(root, 'run');
  service = Number(pid);
  return {
    runLimit,
    supervisor: child.pid as number,
    stop: async () => {
      t.equal((await tether(['svc', '-dx', dir])).code, 0, 'svc -dx');
      t.equal((await exitOf(child)).code, 0, 'the supervisor exits 0 after x');
    },
  };
}

t.test('bin/tether (the checkout\'s command) records the limit too, whatever TETHER_NOFILE it inherits', { skip: SHARED && 'per-process only' }, async (t) => {
  const s = await superviseUnderPrlimit(t, `--nofile=300:${HARD}`, [join(ROOT, 'bin', 'tether')], '99');
  t.equal(s.runLimit, '300', 'run got the limit bin/tether was started with, not the inherited TETHER_NOFILE');
  await s.stop();
});

t.test('a supervisor that inherited many fds keeps room for itself: the service still gets the started limit', { skip: SHARED && 'per-process only' }, async (t) => {
  // fds 3-62 taken: at a limit of 100, too few would be left below it for the supervisor's own.
  const s = await superviseUnderPrlimit(t, `--nofile=100:${HARD}`, [process.execPath, TETHER], '100', 60);
  t.equal(s.runLimit, '100', 'run got the started limit');
  t.same(limitsOf(s.supervisor), { soft: HARD, hard: HARD }, 'the supervisor kept the raised one');
  await s.stop();
});
