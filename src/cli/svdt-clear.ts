// tether svdt-clear: empty a service's death tally. Like s6-svdt-clear it
// tells the supervisor nothing: it replaces the file, atomically, with an
// empty one.
import { runCommand, printHelp, type Command } from '../client/cli';
import { getopt, takeLongOptions } from '../client/getopt';
import { ClientError, EXIT_SYSTEM, UsageError, describe } from '../client/errors';
import { deathTallyPath } from '../wire/deathtally';
import { writeFileAtomic } from '../wire/atomic';

const cmd: Command = {
  name: 'svdt-clear',
  usage: 'DIR',
  help: 'Exit: 0; 100 usage; 111 the death tally cannot be rewritten.',
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
    try {
      writeFileAtomic(deathTallyPath(dir), Buffer.alloc(0), 0o666);
    } catch (err) {
      throw new ClientError(`unable to clear death tally for service ${dir}: ${describe(err)}`, EXIT_SYSTEM);
    }
    return 0;
  });
}
