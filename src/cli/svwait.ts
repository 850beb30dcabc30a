// tether svwait: wait until services reach a state, without polling.
import { runCommand, printHelp, unsubscribeOnSignals, type Command } from '../client/cli';
import { getopt, takeLongOptions } from '../client/getopt';
import { parseWaitArgs, WAIT_HELP } from '../client/waitargs';
import { ServiceWatch } from '../client/listen';
import { UsageError } from '../client/errors';
import { refuseUnreportableReadiness } from '../client/svc';
import { SCANDIR_HELP, serviceDirs, takeScandir } from '../client/scandir';

const cmd: Command = {
  name: 'svwait',
  usage: '[-u|-U|-d|-D|-r|-R] [-a|-o] [-t ms] [--scandir SCANDIR] DIR|NAME...',
  help: `${WAIT_HELP}
-U or -R on a service without notification-fd exits 99 at once: it can never
be ready (s6-svwait would wait until its timeout, then exit 99).
${SCANDIR_HELP}`,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const named = takeScandir(argv);
    const { long, rest } = takeLongOptions(named.rest, ['help']);
    const { options, operands } = getopt(rest, 'huUdDrRaot:');
    if (long.has('help') || options.some((o) => o.opt === 'h')) {
      printHelp(cmd);
      return 0;
    }
    const { condition, any, timeoutMs } = parseWaitArgs(options);
    if (operands.length === 0) throw new UsageError('no service directory');
    const dirs = serviceDirs(operands, named.scandir);
    refuseUnreportableReadiness(dirs, condition, any);
    unsubscribeOnSignals();
    return new ServiceWatch(dirs).wait(condition, { any, timeoutMs });
  });
}
