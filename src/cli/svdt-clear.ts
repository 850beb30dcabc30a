// tether svdt-clear: empty a service's death tally. Like s6-svdt-clear it
// tells the supervisor nothing: it replaces the file, atomically, with an
// empty one.
import { runCommand, soleDirOperand, type Command } from './lib/program';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { describe } from '../base/errno';
import { writeDeathTally } from '../wire/deathtally';

const cmd: Command = {
  name: 'svdt-clear',
  usage: 'DIR',
  help: 'Exit: 0; 100 usage; 111 the death tally cannot be rewritten.',
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const dir = soleDirOperand(argv);
    try {
      writeDeathTally(dir, []);
    } catch (err) {
      throw new Failure(`unable to clear death tally for service ${dir}: ${describe(err)}`, EXIT_SYSTEM);
    }
    return 0;
  });
}
