// tether svc: send commands to supervisors, optionally waiting for a state.
import { constants } from 'node:os';
import { controlServices } from '../client/svc';
import { runCommand, unsubscribeOnSignals, warn, fatal, type Command } from './lib/program';
import { letters, parseOptions, parseUint } from '../base/getopt';
import { usageError } from '../base/exit';
import { CONDITION_BY_LETTER } from '../client/conditions';
import { parseSignal } from '../wire/signals';
import { MAX_COMMANDS } from '../client/control';
import { SCANDIR_HELP, SCANDIR_OPTION, scandirOf, serviceDirs } from '../client/scandir';

const cmd: Command = {
  name: 'svc',
  usage: '[-wu|-wU|-wd|-wD|-wr|-wR] [-T ms] [-s SIG | -abqhkti12pcyrlPCK] [-oduDUxOQ] [--scandir SCANDIR] DIR|NAME...',
  help: `Sends each command letter, in order, to every DIR's supervisor, then with -w
waits (in-process, on the event FIFOs) until all of them reach the state:
  -wu up, -wU up and ready, -wd down, -wD down and finish done,
  -wr restarted (down then up), -wR restarted and ready; -T ms bounds the wait.
  -wU/-wR on a DIR without notification-fd waits for up there (a warning each).
${SCANDIR_HELP}
Signals: -a ALRM -b ABRT -q QUIT -h HUP -k KILL -t TERM -i INT -1 USR1 -2 USR2
  -p STOP -c CONT -y WINCH -r down-signal -l reload-signal; -P -C -K: STOP,
  CONT, KILL to the process group; -s SIG names one.
State: -u up -d down -o once -D down + create ./down -U up + remove ./down
  -x supervisor exits once down -O once at most -Q down file, no kill.
Exit: 0; 1 supervise/ exists but has no control FIFO; 99 timeout;
  100 usage; 102 not supervised; 111 system error; n failures seen while waiting.
(--help prints this; -h is SIGHUP.)`,
};

/** The signals s6-svc lets users send by -s, as their command letters. */
const LETTER_BY_SIGNAL: Readonly<Record<string, string>> = {
  SIGALRM: 'a', SIGABRT: 'b', SIGQUIT: 'q', SIGHUP: 'h', SIGKILL: 'k', SIGTERM: 't',
  SIGINT: 'i', SIGUSR1: '1', SIGUSR2: '2', SIGSTOP: 'p', SIGCONT: 'c', SIGWINCH: 'y',
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const { options, sequence, operands } = parseOptions(argv, letters('s:abqhkti12pcyrlPCKoduDUxOQT:w:', SCANDIR_OPTION), 'posix-long');
    let bytes = '';
    let waitLetter: string | undefined;
    let timeoutMs: number | undefined;
    for (const { opt, arg = '' } of sequence) {
      if (opt === 'scandir') continue;
      if (opt === 'T') timeoutMs = parseUint(arg, 'timeout');
      else if (opt === 'w') {
        if (!/^[dDuUrR]$/.test(arg)) throw usageError(`invalid wait: -w${arg}`);
        waitLetter = arg;
      } else bytes += opt === 's' ? signalLetter(arg) : opt;
      if (bytes.length > MAX_COMMANDS) throw usageError('too many commands');
    }
    if (operands.length === 0) throw usageError('no service directory');
    if (operands.some((d) => d === '')) throw usageError('invalid service path');
    const wait = waitLetter === undefined ? undefined : CONDITION_BY_LETTER[waitLetter];
    if (wait !== undefined) unsubscribeOnSignals();
    const outcome = await controlServices(serviceDirs(operands, scandirOf(options)), bytes, {
      wait,
      warn,
      timeoutMs: timeoutMs === 0 ? undefined : timeoutMs,
    });
    for (const f of outcome.failures) fatal(f.message);
    return outcome.exitCode;
  });
}

function signalLetter(name: string): string {
  const num = parseSignal(name);
  if (num === null) throw usageError(`invalid signal: ${name}`);
  const entry = Object.entries(LETTER_BY_SIGNAL).find(([sig]) => constants.signals[sig as NodeJS.Signals] === num);
  if (!entry) throw usageError(`${name} is not in the list of user-available signals`);
  return entry[1];
}
