// tether svscanctl: send control bytes to a running scanner, as s6-svscanctl does.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_DIR } from '../scan/controldir';
import { SVSCAN_COMMANDS, writeControl } from '../wire/control';

const PROG = 'tether svscanctl';
const USAGE = `usage: tether svscanctl [-zabhitqnN] SCANDIR

Sends commands to the scanner running on SCANDIR (s6-svscanctl compatible):
  -z  reap zombies          -a  rescan now             -b  abort (no waiting)
  -h  rescan, then stop the supervisors of removed services
  -n  stop the supervisors of removed services (loggers get SIGHUP)
  -N  same, loggers get SIGTERM too
  -t, -i  stop everything (loggers drain first)   -q  same, loggers get SIGTERM
Exit codes: 0 sent; 100 usage, or no scanner listening; 111 system error (no SCANDIR).
`;

export function main(argv: string[]): void {
  let bytes = '';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help') return void process.stdout.write(USAGE);
    if (arg === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (const letter of arg.slice(1)) {
        if (!SVSCAN_COMMANDS.includes(letter)) usage(`unknown option: -${letter}`);
        bytes += letter;
      }
    } else rest.push(arg);
  }
  // -h is a command here, as in s6; alone with no SCANDIR it is the help.
  if (rest.length === 0 && bytes === 'h') return void process.stdout.write(USAGE);
  if (rest.length !== 1) usage(rest.length === 0 ? 'missing SCANDIR' : 'one SCANDIR expected');
  if (bytes.length > 64) usage('too many commands');
  let result;
  try {
    // A SCANDIR that cannot be reached is a system error (111), as in s6;
    // one with no scanner listening is 100.
    statSync(rest[0]);
    result = writeControl(join(rest[0], CONTROL_DIR), bytes);
  } catch (err) {
    process.stderr.write(`${PROG}: fatal: unable to control ${rest[0]}: ${(err as Error).message}\n`);
    process.exit(111);
  }
  if (result !== 'sent') {
    const why = result === 'not-listening' ? 'svscan not listening' : `no valid ${CONTROL_DIR}/control`;
    process.stderr.write(`${PROG}: fatal: unable to control ${rest[0]}: ${why}\n`);
    process.exit(100);
  }
}

function usage(message: string): never {
  process.stderr.write(`${PROG}: usage error: ${message}\n${USAGE}`);
  process.exit(100);
}
