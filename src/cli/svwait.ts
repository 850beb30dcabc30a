// tether svwait: wait until services reach a state, without polling.
import { runCommand, unsubscribeOnSignals, type Command } from './lib/program';
import { letters, parseOptions } from '../base/getopt';
import { parseWaitArgs, WAIT_HELP } from './lib/waitargs';
import { ServiceWatch } from '../client/listen';
import { usageError } from '../base/exit';
import { refuseUnreportableReadiness } from '../client/svc';
import { SCANDIR_HELP, SCANDIR_OPTION, scandirOf, serviceDirs } from '../client/scandir';

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
    const { options, sequence, operands } = parseOptions(argv, letters('uUdDrRaot:', SCANDIR_OPTION), 'posix-long');
    const { condition, any, timeoutMs } = parseWaitArgs(sequence);
    if (operands.length === 0) throw usageError('no service directory');
    const dirs = serviceDirs(operands, scandirOf(options));
    refuseUnreportableReadiness(dirs, condition, any);
    unsubscribeOnSignals();
    return new ServiceWatch(dirs).wait(condition, { any, timeoutMs });
  });
}
