// tether svok: exit 0 if a supervisor runs on DIR, 1 if not.
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, soleDirOperand, type Command } from '../client/cli';
import { ClientError, EXIT_SYSTEM, describe } from '../client/errors';
import { isLocked } from '../os/native';
import { SCANDIR_HELP, serviceDir, takeScandir } from '../client/scandir';

const cmd: Command = {
  name: 'svok',
  usage: '[--scandir SCANDIR] DIR|NAME',
  help: `Exit: 0 a supervisor holds DIR/supervise/lock; 1 none does; 100 usage; 111 system error.
${SCANDIR_HELP}`,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const named = takeScandir(argv);
    const operand = soleDirOperand(cmd, named.rest);
    if (operand === null) return 0;
    const dir = serviceDir(operand, named.scandir);
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
