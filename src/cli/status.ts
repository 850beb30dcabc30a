// tether status: an overview of services, as `pm2 ls` or `supervisorctl
// status` give one; --check for health probes, -w to follow events.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { fatal, runCommand, unsubscribeOnSignals, type Command } from './lib/program';
import { letters, parseOptions } from '../base/getopt';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import { describe } from '../base/errno';
import { expandServices, humanDuration, isServiceDir, overview, statusJson, type ServiceRow, type ServiceState } from '../client/overview';
import { liveOrphans } from '../wire/orphans';
import { notifyCell } from '../client/notifyview';
import { SCANDIR_ENV, SCANDIR_OPTION, scandirOf, serviceDirs } from '../client/scandir';
import { closeAllWatches, openWatches } from '../client/registry';
import { FifodirListener } from '../wire/fifodir';

const cmd: Command = {
  name: 'status',
  usage: '[-w] [--json] [--check] [--scandir SCANDIR] [SCANDIR | DIR | NAME]...',
  help: `One row per service: a DIR is one service; a SCANDIR stands for each of its
non-dot subdirectories and their log/ subservices. With no operand: the scan
directory of --scandir or $${SCANDIR_ENV}. A NAME without a slash is
SCANDIR/NAME when one of those is set.
STATE: up (running; it cannot report readiness), starting (readiness expected,
  not reported yet, or about to start again), ready, stopping (running but
  wanted down), crash-looping (wanted up, 3 unasked deaths or more within a minute: exits, or signals svc does not send),
  failed to start (with the reason: run missing, run not executable, bad
  interpreter), down, paused, finishing, not supervised, unreadable.
UPTIME: time up, for running services; "down 5m" for the others.
READY: yes or no where the service can report readiness (notification-fd), else -.
RESTARTS: starts after the first since the tree started, as tether svscan
  counts them (it outlives supervisors); - under another scanner, or none.
TALLY: deaths in supervise/death_tally, which the supervisor keeps since it
  started, at most max-death-tally (100); LAST: the last of them.
DETAIL (only when a service uses notify-socket, watchdog-usec or check): its
  last STATUS= line, stopping/reloading, the watchdog period and whether it
  is armed, the last check's result, and "last down: watchdog|health" when
  the supervisor took it down for that. --json has them under "notify".
--json: one array of objects, one per service; times as ISO strings and epoch milliseconds.
  After them, one object per orphan a shared scanner could not attribute to any
  service: {"kind": "orphan", "scandir", "pid", "command"}.
-w: redraws on every event of every service (no polling), until interrupted.
--check: prints nothing; exits 0 only if every service wanted up is up and,
  where it can report readiness, ready; else 1 (a Docker HEALTHCHECK or a
  Kubernetes exec probe).
Exit: 0; 1 (--check) unhealthy; 100 usage; 111 a SCANDIR cannot be listed.
Colours only on a terminal; NO_COLOR turns them off, FORCE_COLOR on.`,
};

const HEADERS = ['NAME', 'STATE', 'PID', 'UPTIME', 'READY', 'RESTARTS', 'TALLY', 'LAST', 'NORMALLY'];

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const spec = letters('w', { json: { value: false }, check: { value: false }, watch: { value: false }, ...SCANDIR_OPTION });
    const { options, operands } = parseOptions(argv, spec, 'posix-long');
    const scandir = scandirOf(options);
    let paths = serviceDirs(operands, scandir);
    if (paths.length === 0) {
      if (scandir === undefined) throw usageError(`no scan directory: name one, or use --scandir SCANDIR or set ${SCANDIR_ENV}`);
      paths = [scandir];
    }
    if (options.has('check')) return healthy(overview(paths)) ? 0 : 1;
    const render = () => {
      const rows = overview(paths);
      return options.has('json') ? `${JSON.stringify([...rows.map(statusJson), ...orphanRows(paths)])}\n` : table(rows, useColour());
    };
    if (options.has('watch') || options.has('w')) return follow(paths, render);
    process.stdout.write(render());
    return 0;
  });
}

/**
 * After the service rows: the live orphans a shared scanner holds that no
 * service claims (`.s6-svscan/orphans` of each scan directory listed), one
 * object each, told apart from services by `kind`.
 */
function orphanRows(paths: readonly string[]): Array<{ kind: 'orphan'; scandir: string; pid: number; command: string }> {
  return paths.filter((p) => !isServiceDir(p)).flatMap((scandir) => liveOrphans(scandir).map((o) => ({ kind: 'orphan' as const, scandir, ...o })));
}

/** Every service wanted up is up, and ready where it can say so. */
export function healthy(rows: readonly ServiceRow[]): boolean {
  return rows.every((r) => {
    if (!r.wantedUp) return true;
    if (r.state === 'not supervised' || r.state === 'unreadable' || r.status === null || !r.status.up) return false;
    return !r.canReportReadiness || r.status.ready;
  });
}

function useColour(): boolean {
  if (process.env.NO_COLOR) return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return process.stdout.isTTY === true;
}

const COLOURS: Record<ServiceState, number> = {
  up: 32, ready: 32, starting: 33, stopping: 33, paused: 33, finishing: 33, down: 0,
  'crash-looping': 31, 'failed to start': 31, 'not supervised': 2, unreadable: 31,
};

function uptimeCell(r: ServiceRow): string {
  if (r.uptime === null) return '-';
  return r.status?.up ? humanDuration(r.uptime) : `down ${humanDuration(r.uptime)}`;
}

function table(rows: readonly ServiceRow[], colour: boolean): string {
  // The extensions' column only where some service uses them: s6 trees keep s6's table.
  const detail = rows.some((r) => r.notify);
  const headers = detail ? [...HEADERS, 'DETAIL'] : HEADERS;
  const cells = rows.map((r) => [
    r.name,
    r.reason ? `${r.state} (${r.reason})` : r.state,
    r.pid === null ? '-' : String(r.pid),
    uptimeCell(r),
    r.ready === null ? '-' : r.ready ? 'yes' : 'no',
    r.restarts === null ? '-' : String(r.restarts),
    String(r.deathTally),
    r.last ?? '-',
    r.normallyUp ? 'up' : 'down',
    ...(detail ? [r.notify ? notifyCell(r.notify) : ''] : []),
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[], state?: ServiceState) => c.map((v, i) => {
    const padded = i === c.length - 1 ? v : v.padEnd(widths[i]);
    const code = i === 1 && state && colour ? COLOURS[state] : 0;
    return code ? `\x1b[${code}m${padded}\x1b[0m` : padded;
  }).join('  ').trimEnd();
  return [line(headers), ...cells.map((c, i) => line(c, rows[i].state))].map((l) => `${l}\n`).join('');
}

/**
 * Redraws whenever a service sends an event (its event fifodir) or a scan
 * directory gains or loses an entry (inotify): no timer, no polling. Ends
 * on SIGINT, SIGTERM or SIGHUP, unsubscribing first.
 */
function follow(paths: readonly string[], render: () => string): Promise<number> {
  const tty = process.stdout.isTTY === true;
  const listeners = new Map<string, FifodirListener>();
  const watchers: FSWatcher[] = [];
  let pending = false;
  const draw = () => {
    pending = false;
    try {
      subscribeAll();
      const out = render();
      process.stdout.write(tty ? `\x1b[H\x1b[2J${out}` : `${out}\n`);
    } catch (err) {
      // A scan directory removed, an event/ that cannot be made: one line, 111.
      fatal(err instanceof Failure ? err.message : describe(err));
      closeAllWatches();
      process.exit(err instanceof Failure ? err.exitCode : EXIT_SYSTEM);
    }
  };
  // Events come in bursts (dDu...): one redraw per turn of the event loop.
  const soon = () => {
    if (!pending) {
      pending = true;
      setImmediate(draw);
    }
  };
  const subscribeAll = () => {
    for (const { dir } of expandServices(paths)) {
      if (listeners.has(dir)) continue;
      try {
        const l = FifodirListener.subscribe(join(dir, 'event'));
        l.onEvents(soon);
        listeners.set(dir, l);
      } catch (err) {
        throw new Failure(`unable to subscribe to events for ${dir}: ${describe(err)}`, EXIT_SYSTEM, dir);
      }
    }
  };
  openWatches.add({ close: () => { for (const l of listeners.values()) l.close(); for (const w of watchers) w.close(); } });
  unsubscribeOnSignals();
  for (const p of paths) {
    try {
      watchers.push(watch(p, soon));
    } catch {
      // a path that cannot be watched still has its services' events
    }
  }
  draw();
  // Runs until a signal ends it (unsubscribeOnSignals).
  return new Promise<number>(() => {});
}
