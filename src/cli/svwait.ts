// tether svwait: wait until services reach a state, without polling.
import { runCommand, printHelp, unsubscribeOnSignals, type Command } from './lib/program';
import { letters, parseOptions } from '../base/getopt';
import { parseWaitArgs, WAIT_HELP } from './lib/waitargs';
import { ServiceWatch } from '../client/listen';

const cmd: Command = {
  name: 'svwait',
  usage: '[-u|-U|-d|-D|-r|-R] [-a|-o] [-t ms] DIR...',
  help: WAIT_HELP,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const { options, sequence, operands } = parseOptions(argv, letters('huUdDrRaot:', { help: { value: false } }), 'posix-long');
    if (options.has('help') || options.has('h')) {
      printHelp();
      return 0;
    }
    const { condition, any, timeoutMs } = parseWaitArgs(sequence);
    if (operands.length === 0) return 0;
    unsubscribeOnSignals();
    return new ServiceWatch(operands).wait(condition, { any, timeoutMs });
  });
}
