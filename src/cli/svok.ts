// tether svok: exit 0 if a supervisor runs on DIR, 1 if not.
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, printHelp, type Command } from '../client/cli';
import { getopt, takeLongOptions } from '../client/getopt';
import { ClientError, EXIT_SYSTEM, UsageError, describe } from '../client/errors';
import { isLocked } from '../os/native';

const cmd: Command = {
  name: 'svok',
  usage: 'DIR',
  help: 'Exit: 0 a supervisor holds DIR/supervise/lock; 1 none does; 100 usage; 111 system error.',
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const { long, rest } = takeLongOptions(argv, ['help']);
    const { options, operands } = getopt(rest, 'h');
    if (long.has('help') || options.length > 0) {
      printHelp(cmd);
      return 0;
    }
    const dir = operands[0];
    if (dir === undefined) throw new UsageError('no service directory');
    let fd: number;
    try {
      fd = openSync(join(dir, 'supervise', 'lock'), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 1;
      throw new ClientError(`unable to check ${dir}: ${describe(err)}`, EXIT_SYSTEM);
    }
    try {
      // The same probe as s6-svok: F_GETLK for a read lock on the whole file.
      return isLocked(fd) ? 0 : 1;
    } finally {
      closeSync(fd);
    }
  });
}
