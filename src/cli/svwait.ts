// tether svwait: wait until services reach a state, without polling.
import { runCommand, printHelp, unsubscribeOnSignals, type Command } from '../client/cli';
import { getopt, takeLongOptions } from '../client/getopt';
import { parseWaitArgs, WAIT_HELP } from '../client/waitargs';
import { ServiceWatch } from '../client/listen';

const cmd: Command = {
  name: 'svwait',
  usage: '[-u|-U|-d|-D|-r|-R] [-a|-o] [-t ms] DIR...',
  help: WAIT_HELP,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const { long, rest } = takeLongOptions(argv, ['help']);
    const { options, operands } = getopt(rest, 'huUdDrRaot:');
    if (long.has('help') || options.some((o) => o.opt === 'h')) {
      printHelp(cmd);
      return 0;
    }
    const { condition, any, timeoutMs } = parseWaitArgs(options);
    if (operands.length === 0) return 0;
    unsubscribeOnSignals();
    return new ServiceWatch(operands).wait(condition, { any, timeoutMs });
  });
}
