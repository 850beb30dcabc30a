// tether svscanctl: send control bytes to a running scanner, as s6-svscanctl does.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_DIR } from '../scan/controldir';
import { SVSCAN_COMMANDS, writeControl } from '../wire/control';
import { EXIT_USAGE, usageError } from '../base/exit';
import { HelpRequested, letters, parseOptions } from '../base/getopt';
import { die, dieSystem, parseCommandLine, type Command } from './lib/program';

const cmd: Command = {
  name: 'svscanctl',
  usage: '[-zabhitqnN] SCANDIR',
  help: `Sends commands to the scanner running on SCANDIR (s6-svscanctl compatible):
  -z  reap zombies          -a  rescan now             -b  abort (no waiting)
  -h  rescan, then stop the supervisors of removed services
  -n  stop the supervisors of removed services (loggers get SIGHUP)
  -N  same, loggers get SIGTERM too
  -t, -i  stop everything (loggers drain first)   -q  same, loggers get SIGTERM
Exit codes: 0 sent; 100 usage, or no scanner listening; 111 system error (no SCANDIR).`,
};

export function main(argv: string[]): void {
  const { bytes, operands } = parseCommandLine(cmd, () => {
    const parsed = parseOptions(argv, letters(SVSCAN_COMMANDS), 'anywhere');
    const commands = parsed.sequence.map((o) => o.opt).join('');
    // -h is a command here, as in s6; alone with no SCANDIR it is the help.
    if (parsed.operands.length === 0 && commands === 'h') throw new HelpRequested();
    if (parsed.operands.length !== 1) throw usageError(parsed.operands.length === 0 ? 'missing SCANDIR' : 'one SCANDIR expected');
    if (commands.length > 64) throw usageError('too many commands');
    return { bytes: commands, operands: parsed.operands };
  });
  let result;
  try {
    // A SCANDIR that cannot be reached is a system error (111), as in s6;
    // one with no scanner listening is 100.
    statSync(operands[0]);
    result = writeControl(join(operands[0], CONTROL_DIR), bytes);
  } catch (err) {
    dieSystem(`unable to control ${operands[0]}: ${(err as Error).message}`);
  }
  if (result !== 'sent') {
    const why = result === 'not-listening' ? 'svscan not listening' : `no valid ${CONTROL_DIR}/control`;
    die(EXIT_USAGE, `unable to control ${operands[0]}: ${why}`);
  }
}
