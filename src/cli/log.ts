// tether log: a small logger for a service's `log/run`. It stamps each line
// read on stdin with TAI64N, appends it to DIR/current, rotates by size, and
// exits 0 at EOF once everything is on disk: that is how a logger drains when
// its service stops.
import { LogDir, LogDirBusyError } from '../log/logdir';
import { Logger } from '../log/logger';
import { EXIT_SYSTEM, EXIT_USAGE, usageError } from '../base/exit';
import { letters, parseOptions, parseUint } from '../base/getopt';
import { commandFromHelp, die, dieOn, exitOnInternalError, printHelp, setProgram, warn } from './lib/program';

const USAGE = `usage: tether log [-n count] [-s size] DIR

Reads lines on stdin and appends them, each prefixed with "@TAI64N ", to DIR/current.
  -n count   archived files to keep (default 10)
  -s size    rotate current before it grows past size bytes (default 1000000, at least 4096)
  -h, --help show this help
Rotation renames current to DIR/@TAI64N.s. Exits 0 at EOF once everything is written.
Signals: TERM and INT write what was read (an unfinished line as a line) and exit 0,
leaving the rest of the input to the next logger; ALRM rotates now; HUP is ignored.
`;

const cmd = commandFromHelp('log', USAGE);

interface LogArgs {
  dir: string;
  maxFiles: number;
  maxSize: number;
}

/** Throws a usage Failure (100) for a wrong command line. */
function parse(argv: string[]): LogArgs | null {
  const { options, operands } = parseOptions(argv, letters('hn:s:', { help: { value: false } }), 'anywhere');
  if (options.has('h') || options.has('help')) return null;
  const n = options.get('n');
  const size = options.get('s');
  const out: LogArgs = { dir: '', maxFiles: n === undefined ? 10 : parseUint(n, '-n'), maxSize: size === undefined ? 1_000_000 : parseUint(size, '-s') };
  if (out.maxSize < 4096) throw usageError('-s must be at least 4096');
  if (operands.length !== 1) throw usageError(operands.length === 0 ? 'missing DIR' : 'one DIR expected');
  out.dir = operands[0];
  return out;
}

export async function main(argv: string[]): Promise<void> {
  setProgram(cmd);
  let args;
  try {
    args = parse(argv);
  } catch (err) {
    dieOn(err);
  }
  if (!args) return printHelp();
  exitOnInternalError();
  const logdir = new LogDir(args.dir, { maxFiles: args.maxFiles, maxSize: args.maxSize });
  try {
    logdir.open();
  } catch (err) {
    const busy = err instanceof LogDirBusyError;
    die(busy ? EXIT_USAGE : EXIT_SYSTEM, busy ? err.message : `unable to open ${args.dir}: ${(err as Error).message}`);
  }
  const logger = new Logger(process.stdin, logdir, warn);
  process.on('SIGTERM', () => logger.stop());
  process.on('SIGINT', () => logger.stop());
  process.on('SIGHUP', () => {});
  process.on('SIGALRM', () => logger.rotate());
  // Node would open its inspector on SIGUSR1: a logger has no use for one.
  process.on('SIGUSR1', () => {});
  logger.start();
  await logger.finished;
  process.exit(0);
}
