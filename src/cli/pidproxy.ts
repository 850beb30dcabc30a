// tether pidproxy: supervisord's pidproxy, as a child subreaper.
import { EXIT_USAGE, UsageError, die, parseOptions, parseUint } from '../daemon/cli';
import { DEFAULT_PIDFILE_WAIT_MS } from '../daemon/pidfile';
import { PidProxy } from '../daemon/pidproxy';

const USAGE = `usage: tether pidproxy [-t ms] PIDFILE PROG...

Runs PROG, which starts a daemon that writes its pid to PIDFILE, and stands
in for the daemon under a supervisor that wants a foreground process.
TERM, HUP, INT, QUIT, USR1 and USR2 go to the pid PIDFILE names at that
moment (re-read each time), if it descends from pidproxy; else to PROG.
pidproxy exits when PROG and the daemon have both died, with the daemon's
status (its code, or 128+n for signal n).

  -t ms   after PROG exits 0, wait this long for PIDFILE (default ${DEFAULT_PIDFILE_WAIT_MS})

Exit: the daemon's status; PROG's if it failed or no daemon was seen;
104 PIDFILE missing or naming no process of ours; 126/127 PROG cannot be
run; 100 usage.
`;

export function main(argv: string[]): void {
  let opts;
  try {
    const { options, operands } = parseOptions(argv, {
      help: { short: 'h', value: false },
      'pidfile-timeout': { short: 't', value: true },
    }, true);
    if (options.has('help')) {
      process.stdout.write(USAGE);
      return;
    }
    if (operands.length < 2) throw new UsageError('needs PIDFILE and PROG');
    const t = options.get('pidfile-timeout');
    opts = {
      pidFile: operands[0],
      argv: operands.slice(1),
      pidFileWaitMs: t === undefined ? undefined : parseUint(t as string, '-t'),
    };
  } catch (err) {
    if (err instanceof UsageError) die('pidproxy', EXIT_USAGE, `${err.message}\n${USAGE.split('\n')[0]}`);
    throw err;
  }
  new PidProxy(opts);
}
