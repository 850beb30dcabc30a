// Command-line parsing for svscan: s6-svscan's short options, getopt style
// (`-t 500` or `-t500`), plus tether's long ones.
import { join } from 'node:path';

export const SVSCAN_USAGE = `usage: tether svscan [-t ms] [-d fd] [-C max] [--watch] [--shared | --supervisor PROG] SCANDIR

Supervises every service directory in SCANDIR (s6-svscan compatible).
  -t ms              rescan every ms milliseconds (default 0: never)
  -d fd              write a newline to fd once every service present at start-up
                     has a supervisor listening
  -C max             supervise at most max services, loggers included (default 1000)
  --watch            rescan as soon as an entry is added to or removed from SCANDIR
  --shared           supervise every service inside this one process (density)
                     instead of one "tether supervise NAME" process each (isolation)
  --supervisor PROG  run "PROG NAME" as each service's supervisor instead of
                     "tether supervise NAME" (for example /usr/bin/s6-supervise)
  -h, --help         show this help
Control it with "tether svscanctl -zabhitqnN SCANDIR" or with signals.
`;

export interface SvscanArgs {
  scandir: string;
  rescanMs: number;
  readinessFd: number | undefined;
  maxServices: number;
  watch: boolean;
  supervisor: string[] | undefined;
  shared: boolean;
  help: boolean;
}

export class UsageError extends Error {}

/** The default supervisor: this tether's own `supervise`, with a small V8 pool. */
export function defaultSupervisor(cliDir: string): string[] {
  return [process.execPath, '--v8-pool-size=1', join(cliDir, '..', '..', 'bin', 'tether.js'), 'supervise'];
}

export function parseSvscanArgs(argv: readonly string[]): SvscanArgs {
  const out: SvscanArgs = { scandir: '', rescanMs: 0, readinessFd: undefined, maxServices: 1000, watch: false, supervisor: undefined, shared: false, help: false };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option ${arg} needs a value`);
      return v;
    };
    if (arg === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') out.help = true;
    else if (arg === '--watch') out.watch = true;
    else if (arg === '--shared') out.shared = true;
    else if (arg === '--supervisor') out.supervisor = [value()];
    else if (arg.startsWith('--supervisor=')) out.supervisor = [arg.slice('--supervisor='.length)];
    else if (/^-[tdCc]/.test(arg)) {
      const opt = arg[1];
      const v = arg.length > 2 ? arg.slice(2) : value();
      const n = uintArg(`-${opt}`, v);
      if (opt === 't') out.rescanMs = n;
      else if (opt === 'd') {
        if (n < 3) throw new UsageError(`-d needs a file descriptor of 3 or more, not ${n}`);
        out.readinessFd = n;
      } else {
        if (n < 4 || n > 160000) throw new UsageError(`-${opt} must be between 4 and 160000`);
        out.maxServices = n;
      }
    } else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option: ${arg}`);
    else rest.push(arg);
  }
  if (out.help) return out;
  if (out.shared && out.supervisor) throw new UsageError('--shared and --supervisor exclude each other');
  if (rest.length !== 1) throw new UsageError(rest.length === 0 ? 'missing SCANDIR' : `one SCANDIR expected, got ${rest.length}`);
  out.scandir = rest[0];
  return out;
}

function uintArg(opt: string, v: string): number {
  if (!/^[0-9]{1,9}$/.test(v)) throw new UsageError(`${opt} needs a number, not ${JSON.stringify(v)}`);
  return Number(v);
}
