// tether svdt: print a service's death tally, oldest first.
import { readFileSync } from 'node:fs';
import { runCommand, printHelp, type Command } from '../client/cli';
import { getopt, takeLongOptions } from '../client/getopt';
import { ClientError, EXIT_SYSTEM, UsageError, describe } from '../client/errors';
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
    const { long, rest } = takeLongOptions(argv, ['help']);
    const { options, operands } = getopt(rest, 'hs');
    if (long.has('help') || options.some((o) => o.opt === 'h')) {
      printHelp(cmd);
      return 0;
    }
    const numeric = options.some((o) => o.opt === 's');
    const dir = operands[0];
    if (dir === undefined) throw new UsageError('no service directory');
    let buf: Buffer;
    try {
      buf = readFileSync(deathTallyPath(dir));
    } catch (err) {
      throw new ClientError(`unable to read death tally for service ${dir}: ${describe(err)}`, EXIT_SYSTEM);
    }
    const lines = decodeDeathTally(buf).map((d) => {
      const what = d.sig ? `signal ${numeric ? d.sig : signalName(d.sig)}` : `exitcode ${d.exitcode}`;
      return `${formatTain(d.stamp)} ${what}\n`;
    });
    process.stdout.write(lines.join(''));
    return 0;
  });
}
