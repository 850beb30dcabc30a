// tether pidproxy: supervisord's pidproxy, as a child subreaper.
import { DEFAULT_PIDFILE_WAIT_MS } from '../os/pidfile';
import { PidProxy, type PidProxyOptions } from '../daemon/pidproxy';
import { parseOptions, parseUint } from '../base/getopt';
import { usageError } from '../base/exit';
import { runUntilEnded, warn, type Command } from './lib/program';

const cmd: Command = {
  name: 'pidproxy',
  usage: '[-t ms] PIDFILE PROG...',
  help: `Runs PROG, which starts a daemon that writes its pid to PIDFILE, and stands
in for the daemon under a supervisor that wants a foreground process.
TERM, HUP, INT, QUIT, USR1 and USR2 go to the pid PIDFILE names at that
moment (re-read each time), if it descends from pidproxy; else to PROG.
pidproxy exits when PROG and the daemon have both died, with the daemon's
status (its code, or 128+n for signal n).

  -t ms   after PROG exits 0, wait this long for PIDFILE (default ${DEFAULT_PIDFILE_WAIT_MS})

Exit: the daemon's status; PROG's if it failed or no daemon was seen;
104 PIDFILE missing or naming no process of ours; 126/127 PROG cannot be
run; 100 usage; 111 system error.`,
};

export function main(argv: string[]): void {
  runUntilEnded(cmd, () => new PidProxy(parse(argv)).ended);
}

function parse(argv: string[]): PidProxyOptions {
  const { options, operands } = parseOptions(argv, { 'pidfile-timeout': { short: 't', value: true } }, 'posix');
  if (operands.length < 2) throw usageError('needs PIDFILE and PROG');
  const t = options.get('pidfile-timeout');
  return {
    pidFile: operands[0],
    argv: operands.slice(1),
    pidFileWaitMs: t === undefined ? undefined : parseUint(t, '-t'),
    warn,
  };
}
