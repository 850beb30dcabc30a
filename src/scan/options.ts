// Command-line parsing for svscan: s6-svscan's short options, getopt style
// (`-t 500` or `-t500`), plus tether's long ones.
import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { usageError } from '../base/exit';
import { parseOptions, parseUint } from '../base/getopt';
import { atStartedFdLimit } from '../supervise/spawn';

export const SVSCAN_USAGE = `usage: tether svscan [-t ms] [-d fd] [-C max] [-K ms] [--watch] [--shared | --supervisor PROG] SCANDIR

Supervises every service directory in SCANDIR (s6-svscan compatible).
  -t ms              rescan every ms milliseconds (default 0: never)
  -d fd              write a newline to fd once every service present at start-up
                     has a supervisor listening
  -C max             supervise at most max services, loggers included (default 1000)
  -K ms              at shutdown, give each service ms milliseconds to stop, then
                     SIGKILL it and say so (default 10000; a service's own
                     timeout-kill replaces it; a logger's time starts once its
                     service is gone)
  --watch            rescan as soon as an entry is added to or removed from SCANDIR,
                     and stop the services of removed directories (svscanctl -an)
  --shared           supervise every service inside this one process (density)
                     instead of one "tether supervise NAME" process each (isolation)
  --supervisor PROG  run "PROG NAME" as each service's supervisor instead of
                     "tether supervise NAME" (for example /usr/bin/s6-supervise)
  -h, --help         show this help
Control it with "tether svscanctl -zabhitqnN SCANDIR" or with signals, as s6-svscan:
  SIGTERM, SIGINT (Ctrl-C): stop every service in order, then exit; a second
  Ctrl-C (a second or more after the first) kills what is left and exits at once.
  SIGHUP: rescan, and stop the services of removed directories; but when the
  terminal svscan was started from has hung up (closed), stop everything in
  order, as SIGTERM does. "setsid tether svscan ..." detaches it from the terminal.
Services get /dev/null as stdin (a logger reads its service's pipe), never the
scanner's own.
Exit codes: the exit code of .s6-svscan/finish if it runs, else 0; 100 usage,
or another svscan runs on SCANDIR (its pid is named); 111 system error.
`;

export interface SvscanArgs {
  scandir: string;
  rescanMs: number;
  readinessFd: number | undefined;
  maxServices: number;
  graceMs: number;
  watch: boolean;
  supervisor: string[] | undefined;
  shared: boolean;
}

/** The default supervisor: this tether's own `supervise`, with a small V8 pool. */
export function defaultSupervisor(cliDir: string): string[] {
  return [process.execPath, '--v8-pool-size=1', join(cliDir, '..', '..', 'bin', 'tether.js'), 'supervise'];
}

/**
 * The command that runs each service's supervisor (its name appended):
 * ours, or `--supervisor PROG`. Ours puts back the open-files limit we were
 * started with itself; PROG (s6-supervise) would keep the one Node raised
 * ours to and pass it on to its services, so a shell gives it the started
 * one first. Only where PROG is there to run: a missing one fails to spawn,
 * and is retried, as without the shell.
 */
export function supervisorCommand(prog: string | undefined, cliDir: string): string[] {
  if (prog === undefined) return defaultSupervisor(cliDir);
  // A relative PROG is taken from here, not from SCANDIR where supervisors start.
  const path = prog.includes('/') ? resolve(prog) : prog;
  return runnable(path) ? atStartedFdLimit([path]) : [path];
}

/** True if `prog` (a path, or a bare name looked up in PATH as execvp does) can be executed. */
function runnable(prog: string): boolean {
  const candidates = prog.includes('/') ? [prog] : (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).map((d) => join(d || '.', prog));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Throws a usage Failure (100) for a wrong command line. */
export function parseSvscanArgs(argv: readonly string[]): SvscanArgs {
  const out: SvscanArgs = { scandir: '', rescanMs: 0, readinessFd: undefined, maxServices: 1000, graceMs: 10_000, watch: false, supervisor: undefined, shared: false };
  const { options, operands } = parseOptions(argv, {
    watch: { value: false },
    shared: { value: false },
    supervisor: { value: true },
    t: { short: 't', value: true },
    d: { short: 'd', value: true },
    C: { short: 'C', value: true },
    K: { short: 'K', value: true },
    c: { short: 'c', value: true },
  }, 'anywhere');
  out.watch = options.has('watch');
  out.shared = options.has('shared');
  const supervisor = options.get('supervisor');
  if (typeof supervisor === 'string') out.supervisor = [supervisor];
  const t = options.get('t');
  if (t !== undefined) out.rescanMs = uintArg('-t', t);
  const d = options.get('d');
  if (d !== undefined) {
    out.readinessFd = uintArg('-d', d);
    if (out.readinessFd < 3) throw usageError(`-d needs a file descriptor of 3 or more, not ${out.readinessFd}`);
  }
  const K = options.get('K');
  if (K !== undefined) out.graceMs = uintArg('-K', K);
  for (const opt of ['C', 'c']) {
    const v = options.get(opt);
    if (v === undefined) continue;
    out.maxServices = uintArg(`-${opt}`, v);
    if (out.maxServices < 4 || out.maxServices > 160000) throw usageError(`-${opt} must be between 4 and 160000`);
  }
  if (out.shared && out.supervisor) throw usageError('--shared and --supervisor exclude each other');
  if (operands.length !== 1) throw usageError(operands.length === 0 ? 'missing SCANDIR' : `one SCANDIR expected, got ${operands.length}`);
  out.scandir = operands[0];
  return out;
}

function uintArg(opt: string, v: string | true): number {
  const n = parseUint(v, opt);
  if (n > 999_999_999) throw usageError(`invalid ${opt}: ${n} is too large`);
  return n;
}
