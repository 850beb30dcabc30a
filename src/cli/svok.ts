// tether svok: exit 0 if a supervisor runs on DIR, 1 if not.
import { runCommand, type Command } from './lib/program';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import { describe } from '../base/errno';
import { isSupervised } from '../client/supervised';
import { SCANDIR_HELP, SCANDIR_OPTION, scandirOf, serviceDir } from '../client/scandir';
import { parseOptions } from '../base/getopt';

const cmd: Command = {
  name: 'svok',
  usage: '[--scandir SCANDIR] DIR|NAME',
  help: `Exit: 0 a supervisor holds DIR/supervise/lock; 1 none does; 100 usage; 111 system error.
${SCANDIR_HELP}`,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const { options, operands } = parseOptions(argv, SCANDIR_OPTION, 'posix-long');
    if (operands[0] === undefined) throw usageError('no service directory');
    const dir = serviceDir(operands[0], scandirOf(options));
    try {
      // As s6-svok: the lock decides; a listening control FIFO answers first, without native code.
      return isSupervised(dir) ? 0 : 1;
    } catch (err) {
      throw new Failure(`unable to check ${dir}: ${describe(err)}`, EXIT_SYSTEM);
    }
  });
}
