// tether svdt: print a service's death tally, oldest first.
import { readFileSync } from 'node:fs';
import { runCommand, type Command } from './lib/program';
import { letters, parseOptions } from '../base/getopt';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import { isSupervised, notSupervised } from '../client/supervised';
import { describe, errnoOf } from '../base/errno';
import { decodeDeathTally, deathTallyPath } from '../wire/deathtally';
import { formatTain } from '../wire/tain';
import { signalName } from '../wire/signals';

const cmd: Command = {
  name: 'svdt',
  usage: '[-s] DIR',
  help: `Prints one line per recorded death of run: "@TAI64N exitcode N" or
"@TAI64N signal SIGNAME" (-s: the signal's number).
Exit: 0; 100 usage; 111 the death tally cannot be read.`,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const { options, operands } = parseOptions(argv, letters('s'), 'posix-long');
    const numeric = options.has('s');
    const dir = operands[0];
    if (dir === undefined) throw usageError('no service directory');
    let buf: Buffer;
    try {
      buf = readFileSync(deathTallyPath(dir));
    } catch (err) {
      // Kept after its supervisor exits; missing, it was never supervised, or the path is wrong.
      const why = errnoOf(err) === 'ENOENT' && !isSupervised(dir) ? notSupervised(dir) : `unable to read death tally for service ${dir}: ${describe(err)}`;
      throw new Failure(why, EXIT_SYSTEM);
    }
    const lines = decodeDeathTally(buf).map((d) => {
      const what = d.sig ? `signal ${numeric ? d.sig : signalName(d.sig)}` : `exitcode ${d.exitcode}`;
      return `${formatTain(d.stamp)} ${what}\n`;
    });
    process.stdout.write(lines.join(''));
    return 0;
  });
}
