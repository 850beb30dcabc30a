// tether svlisten: subscribe to services, run PROG (which usually changes
// them), then wait for the state. The subscription comes first, so nothing
// PROG causes can be missed.
import { spawn } from 'node:child_process';
import { runCommand, unsubscribeOnSignals, type Command } from './lib/program';
import { letters, parseOptions } from '../base/getopt';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import { describe } from '../base/errno';
import { parseWaitArgs, WAIT_HELP } from './lib/waitargs';
import { ServiceWatch } from '../client/listen';

const cmd: Command = {
  name: 'svlisten',
  usage: '[-u|-U|-d|-D|-r|-R] [-a|-o] [-t ms] DIR... -- PROG...',
  help: `Subscribes to every DIR's events and reads their status, then spawns PROG,
then waits as svwait does. PROG's own exit status does not matter.
${WAIT_HELP}`,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const { sequence, operands, dashdash } = parseOptions(argv, letters('uUdDrRaot:'), 'posix-long');
    const { condition, any, timeoutMs } = parseWaitArgs(sequence);
    // "-u -- DIR -- PROG": the first "--" only ended the options.
    const words = dashdash && operands.indexOf('--') < 0 ? ['--', ...operands] : operands;
    const sep = words.indexOf('--');
    const dirs = words.slice(0, sep);
    const prog = words.slice(sep + 1);
    if (sep < 0 || prog.length === 0) throw usageError('no program to run');
    unsubscribeOnSignals();
    const watch = new ServiceWatch(dirs);
    try {
      await spawnProgram(prog);
    } catch (err) {
      watch.close();
      throw err;
    }
    return dirs.length === 0 ? 0 : watch.wait(condition, { any, timeoutMs });
  });
}

/** Resolves once PROG runs; it is not waited for, as s6-svlisten does not. */
function spawnProgram(prog: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(prog[0], prog.slice(1), { stdio: 'inherit' });
    child.once('error', (err) => reject(new Failure(`unable to spawn ${prog[0]}: ${describe(err)}`, EXIT_SYSTEM)));
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}
