// tether log: a small logger for a service's `log/run`. It stamps each line
// read on stdin with TAI64N, appends it to DIR/current, rotates by size, and
// exits 0 at EOF once everything is on disk: that is how a logger drains when
// its service stops.
import { LogDir, LogDirBusyError } from '../log/logdir';
import { Logger } from '../log/logger';

const PROG = 'tether log';
const USAGE = `usage: tether log [-n count] [-s size] DIR

Reads lines on stdin and appends them, each prefixed with "@TAI64N ", to DIR/current.
  -n count   archived files to keep (default 10)
  -s size    rotate current before it grows past size bytes (default 1000000, at least 4096)
  -h, --help show this help
Rotation renames current to DIR/@TAI64N.s. Exits 0 at EOF once everything is written.
Signals: TERM and INT write what was read (an unfinished line as a line) and exit 0,
leaving the rest of the input to the next logger; ALRM rotates now; HUP is ignored.
`;

interface LogArgs {
  dir: string;
  maxFiles: number;
  maxSize: number;
}

function usage(message: string): never {
  process.stderr.write(`${PROG}: usage error: ${message}\n${USAGE}`);
  process.exit(100);
}

function parse(argv: string[]): LogArgs | null {
  const out: LogArgs = { dir: '', maxFiles: 10, maxSize: 1_000_000 };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return null;
    if (arg === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (/^-[ns]/.test(arg)) {
      const v = arg.length > 2 ? arg.slice(2) : argv[++i];
      if (v === undefined || !/^[0-9]{1,12}$/.test(v)) usage(`${arg.slice(0, 2)} needs a number`);
      if (arg[1] === 'n') out.maxFiles = Number(v);
      else {
        if (Number(v) < 4096) usage('-s must be at least 4096');
        out.maxSize = Number(v);
      }
    } else if (arg.startsWith('-') && arg !== '-') usage(`unknown option: ${arg}`);
    else rest.push(arg);
  }
  if (rest.length !== 1) usage(rest.length === 0 ? 'missing DIR' : 'one DIR expected');
  out.dir = rest[0];
  return out;
}

export async function main(argv: string[]): Promise<void> {
  const args = parse(argv);
  if (!args) return void process.stdout.write(USAGE);
  const warn = (m: string) => process.stderr.write(`${PROG}: warning: ${m}\n`);
  const logdir = new LogDir(args.dir, { maxFiles: args.maxFiles, maxSize: args.maxSize });
  try {
    logdir.open();
  } catch (err) {
    const busy = err instanceof LogDirBusyError;
    process.stderr.write(`${PROG}: fatal: ${busy ? err.message : `unable to open ${args.dir}: ${(err as Error).message}`}\n`);
    process.exit(busy ? 100 : 111);
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
