// tether supervise DIR: s6-supervise, in TypeScript.
import { SuperviseHost } from '../supervise/host';
import { runAtStartedFdLimit } from '../supervise/spawn';
import { collectStartupGarbage, noIdleHeapTimers } from '../os/heap';
import { parseOptions } from '../base/getopt';
import { usageError } from '../base/exit';
import { dieOn, dieUsage, exitOnInternalError, parseCommandLine, type Command } from './lib/program';

const cmd: Command = {
  name: 'supervise',
  usage: 'DIR',
  help: `Supervises the service directory DIR as s6-supervise does: runs DIR/run,
restarts it when it dies (at most once a second), and obeys s6-svc and
tether svc through DIR/supervise/control. Exits 0 after "s6-svc -x" once the
service is down; 100 on a usage error or if DIR is already supervised; 111
on a system error or an internal one.`,
};

export function main(argv: string[]): void {
  noIdleHeapTimers();
  const dir = parseCommandLine(cmd, () => {
    const { operands } = parseOptions(argv, {}, 'posix');
    if (operands.length === 0) dieUsage();
    if (operands.length !== 1 || operands[0] === '') throw usageError('one DIR expected');
    return operands[0];
  });
  exitOnInternalError();
  // As s6-supervise: at the limit we were started with, which run and finish inherit.
  runAtStartedFdLimit();
  const host = new SuperviseHost({ onIdle: () => process.exit(0) });
  try {
    host.start();
    host.supervise(dir);
    collectStartupGarbage();
  } catch (err) {
    dieOn(err);
  }
}
