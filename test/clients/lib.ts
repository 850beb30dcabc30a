// The clients' tests run every case against each supervisor in this table:
// Debian's s6-supervise (which proves the tests) and tether supervise.
import type { ChildProcess } from 'node:child_process';
import { SHARED, spawnKind, stopKind } from '../supervise/lib';
import { existsSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { BOUND_MS, HAVE_S6, ROOT, S6_BIN, TETHER, bounded, run, type Teardown, type RunResult } from '../lib/harness';

export interface Supervisor {
  name: string;
  cmd: string;
  args: string[];
  /** Why this row cannot run here, or null. */
  missing: string | null;
}

export const SUPERVISORS: Supervisor[] = [
  {
    name: 's6-supervise',
    cmd: join(S6_BIN, 's6-supervise'),
    args: [],
    missing: HAVE_S6 ? null : 'Debian s6 is not installed',
  },
  {
    name: SHARED ? 'tether svscan --shared' : 'tether supervise',
    cmd: process.execPath,
    args: [TETHER, 'supervise'],
    missing: existsSync(join(ROOT, 'build', 'cli', 'supervise.js')) ? null : 'tether supervise is not built',
  },
];

/** tether's own supervisor, in the mode the suite runs in. */
export const TETHER_SUPERVISOR = SUPERVISORS[1];

export const s6 = (name: string) => join(S6_BIN, name);

/**
 * Starts `sup` on `dir` and waits for its first status write (svok can say
 * yes before it). With `up`, also waits for the service to be up, through
 * Debian's s6-svwait, so the set-up never depends on the clients under test.
 * Teardown brings the service down and makes the supervisor exit (x), then
 * kills by pid whatever is left: services run in their own sessions.
 */
export async function supervise(t: Teardown, sup: Supervisor, dir: string, opts: { up?: boolean } = {}): Promise<ChildProcess> {
  const child = spawnKind(sup, dir, ['ignore', 'ignore', 'pipe']);
  child.stderr!.resume();
  t.teardown(() => stopKind(child, dir));
  await waitForStatus(dir);
  // A scanner listens on event/ itself (it counts restarts) from before the
  // supervisor starts: what is there now is no client's.
  scannerListeners.set(dir, new Set(listeners(dir)));
  if (opts.up) await mustRun(s6('s6-svwait'), ['-u', '-t', '20000', dir]);
  return child;
}

/** Runs a command that must succeed (set-up steps). */
export async function mustRun(cmd: string, args: string[]): Promise<RunResult> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

/** A service that runs forever; with `notify`, it reports readiness on fd 3 first. */
export const SLEEPER = 'exec sleep 1000';
export const NOTIFIER = 'echo >&3\nexec sleep 1000';

/**
 * Resolves once DIR/supervise/status exists. supervise/ itself may not
 * exist yet, so both levels are watched (no polling).
 */
export function waitForStatus(dir: string, ms = BOUND_MS): Promise<void> {
  const supervise = join(dir, 'supervise');
  const status = join(supervise, 'status');
  const watchers: FSWatcher[] = [];
  return bounded(new Promise<void>((resolve) => {
    let inner = false;
    const check = () => {
      if (!inner && existsSync(supervise)) {
        inner = true;
        watchers.push(watch(supervise, check));
      }
      if (existsSync(status)) resolve();
    };
    watchers.push(watch(dir, check));
    check();
  }), ms, `${status}`).finally(() => {
    for (const w of watchers) w.close();
  });
}

const scannerListeners = new Map<string, ReadonlySet<string>>();

function listeners(dir: string): string[] {
  const event = join(dir, 'event');
  return existsSync(event) ? readdirSync(event).filter((n) => n.startsWith('ftrig1:@')) : [];
}

/** The listener FIFOs in DIR/event that are no scanner's: the clients' under test. */
export function clientListeners(dir: string): string[] {
  const own = scannerListeners.get(dir);
  return listeners(dir).filter((n) => !own?.has(n));
}

/** Resolves once a client has subscribed to DIR/event (a listener FIFO is there). */
export function waitSubscribed(dir: string, ms = BOUND_MS): Promise<void> {
  const event = join(dir, 'event');
  const has = () => clientListeners(dir).length > 0;
  let w: FSWatcher | undefined;
  return bounded(new Promise<void>((resolve) => {
    if (has()) return resolve();
    w = watch(event, () => {
      if (has()) resolve();
    });
    if (has()) resolve();
  }), ms, `a subscriber in ${event}`).finally(() => w?.close());
}
