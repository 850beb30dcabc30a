// tether svok: exit 0 if a supervisor runs on DIR, 1 if not.
import { runCommand, soleDirOperand, type Command } from './lib/program';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { describe } from '../base/errno';
import { isSupervised } from '../client/supervised';

const cmd: Command = {
  name: 'svok',
  usage: 'DIR',
  help: 'Exit: 0 a supervisor holds DIR/supervise/lock; 1 none does; 100 usage; 111 system error.',
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const dir = soleDirOperand(argv);
    if (dir === null) return 0;
    try {
      // As s6-svok: the lock decides; a listening control FIFO answers first, without native code.
      return isSupervised(dir) ? 0 : 1;
    } catch (err) {
      throw new Failure(`unable to check ${dir}: ${describe(err)}`, EXIT_SYSTEM);
    }
  });
}
