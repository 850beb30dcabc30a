// tether tree-keeper: internal, started by the spawnTree() API. It runs PROG
// and ends PROG's whole process tree when its owner closes it or dies.
import { DEFAULT_GRACE_MS, TreeKeeper, type KeeperOptions } from '../daemon/keeper';
import { parseOptions, parseUint } from '../base/getopt';
import { usageError } from '../base/exit';
import { runUntilEnded, type Command } from './lib/program';

const cmd: Command = {
  name: 'tree-keeper',
  usage: '--owner PID [--grace ms] -- PROG...',
  help: `Internal: started by the spawnTree() API with a control socket as fd 3.
Runs PROG as a child subreaper; when fd 3 reaches EOF, on SIGTERM, or when
its parent (PID) dies, sends TERM to every descendant, KILL after --grace ms
(default ${DEFAULT_GRACE_MS}), and exits once none is left.`,
};

export function main(argv: string[]): void {
  runUntilEnded(cmd, () => new TreeKeeper(parse(argv)).ended);
}

function parse(argv: string[]): KeeperOptions {
  const { options, operands } = parseOptions(argv, { owner: { value: true }, grace: { value: true } }, 'posix');
  if (operands.length < 1) throw usageError('needs PROG');
  const g = options.get('grace');
  return {
    argv: operands,
    ownerPid: parseUint(options.get('owner'), '--owner'),
    graceMs: g === undefined ? DEFAULT_GRACE_MS : parseUint(g, '--grace'),
  };
}
