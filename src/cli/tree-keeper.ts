// tether tree-keeper: internal, started by the spawnTree() API. It runs PROG
// and ends PROG's whole process tree when its owner closes it or dies.
import { EXIT_USAGE, UsageError, die, parseOptions, parseUint } from '../daemon/cli';
import { DEFAULT_GRACE_MS, TreeKeeper } from '../daemon/keeper';

const USAGE = `usage: tether tree-keeper --owner PID [--grace ms] -- PROG...

Internal: started by the spawnTree() API with a control socket as fd 3.
Runs PROG as a child subreaper; when fd 3 reaches EOF, on SIGTERM, or when
its parent (PID) dies, sends TERM to every descendant, KILL after --grace ms
(default ${DEFAULT_GRACE_MS}), and exits once none is left.
`;

export function main(argv: string[]): void {
  let opts;
  try {
    const { options, operands } = parseOptions(argv, {
      help: { short: 'h', value: false },
      owner: { value: true },
      grace: { value: true },
    }, true);
    if (options.has('help')) {
      process.stdout.write(USAGE);
      return;
    }
    if (operands.length < 1) throw new UsageError('needs PROG');
    const g = options.get('grace');
    opts = {
      argv: operands,
      ownerPid: parseUint(options.get('owner') as string | undefined, '--owner'),
      graceMs: g === undefined ? DEFAULT_GRACE_MS : parseUint(g as string, '--grace'),
    };
  } catch (err) {
    if (err instanceof UsageError) die('tree-keeper', EXIT_USAGE, `${err.message}\n${USAGE.split('\n')[0]}`);
    throw err;
  }
  new TreeKeeper(opts);
}
