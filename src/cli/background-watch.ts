// tether background-watch: s6-background-watch's interface, for run scripts.
import { fstatSync } from 'node:fs';
import { BackgroundWatch, type BackgroundWatchOptions } from '../daemon/background-watch';
import { parseOptions, parseUint } from '../base/getopt';
import { usageError } from '../base/exit';
import { runUntilEnded, warn, type Command } from './lib/program';

const cmd: Command = {
  name: 'background-watch',
  usage: '[-t ms] [-d fd] PIDFILE PROG...',
  help: `Runs PROG, a program that backgrounds itself: it forks the daemon, writes the
daemon's pid and a newline to PIDFILE, and exits 0. background-watch then
stays in the foreground until the daemon dies, and exits with its status.
Signals go to PROG until it exits, then to the daemon.

  -t, --timeout-ready ms    kill PROG if it has not exited after ms (exit 137);
                            also bounds the wait for a late PIDFILE (default 5000)
  -d, --notification-fd fd  write a newline to fd (>= 3) once the daemon is known

Exit: the daemon's code (128+n if killed by signal n); PROG's status if it
fails; 104 bad, missing or foreign PIDFILE; 126/127 PROG cannot be run;
100 usage; 111 system error.`,
};

export function main(argv: string[]): void {
  runUntilEnded(cmd, () => new BackgroundWatch(parse(argv)).ended);
}

function parse(argv: string[]): BackgroundWatchOptions {
  const { options, operands } = parseOptions(argv, {
    'timeout-ready': { short: 't', value: true },
    'notification-fd': { short: 'd', value: true },
  }, 'posix');
  if (operands.length < 2) throw usageError('needs PIDFILE and PROG');
  const t = options.get('timeout-ready');
  const d = options.get('notification-fd');
  const notificationFd = d === undefined ? undefined : parseUint(d, '--notification-fd');
  if (notificationFd !== undefined) {
    if (notificationFd < 3) throw usageError('--notification-fd must be 3 or more');
    try {
      fstatSync(notificationFd);
    } catch {
      throw usageError(`notification fd ${notificationFd} is not open`);
    }
  }
  return {
    pidFile: operands[0],
    argv: operands.slice(1),
    timeoutMs: t === undefined ? 0 : parseUint(t, '--timeout-ready'),
    notificationFd,
    warn,
  };
}
