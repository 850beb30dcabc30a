// tether svok: exit 0 if a supervisor runs on DIR, 1 if not.
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, soleDirOperand, type Command } from './lib/program';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { describe, errnoOf } from '../base/errno';
import { isLocked } from '../os/native';

const cmd: Command = {
  name: 'svok',
  usage: 'DIR',
  help: 'Exit: 0 a supervisor holds DIR/supervise/lock; 1 none does; 100 usage; 111 system error.',
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const dir = soleDirOperand(argv);
    if (dir === null) return 0;
    let fd: number;
    try {
      fd = openSync(join(dir, 'supervise', 'lock'), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return 1;
      throw new Failure(`unable to check ${dir}: ${describe(err)}`, EXIT_SYSTEM);
    }
    try {
      // The same probe as s6-svok: F_GETLK for a read lock on the whole file.
      return isLocked(fd) ? 0 : 1;
    } finally {
      closeSync(fd);
    }
  });
}
