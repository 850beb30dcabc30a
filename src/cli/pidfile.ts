// tether pidfile claim|kill: Cloud Foundry sipid's algorithms for start and
// stop scripts, guarded against reused pids.
import { EXIT_SYSTEM, EXIT_USAGE, UsageError, die, parseDuration, parseOptions, parseUint, warn } from '../daemon/cli';
import { claimPidFile, killFromPidFile, type Outcome } from '../daemon/sipid';

const USAGE = `usage: tether pidfile claim --pid PID --pid-file F
       tether pidfile kill --pid-file F [--grace 20s] [--show-stacks]

claim  creates F's directory, locks F (refuses if another process holds the
       lock), refuses if F names a live process it was written for, then
       writes PID and a newline.
kill   sends SIGTERM to the process F names, waits up to --grace for it to
       exit, sends SIGQUIT first if --show-stacks (Go and the JVM dump their
       stacks), then SIGKILL, and removes F. It refuses to signal a process
       that started after F was written: that pid was reused.

Durations: 500ms, 5s, 1m, 1h, 1m30s.
Exit: 0 done (or nothing to do); 1 refused; 100 usage; 111 system error.
`;

const EXIT_REFUSED = 1;

export function main(argv: string[]): void {
  let outcome: Outcome;
  try {
    outcome = run(argv);
  } catch (err) {
    if (err instanceof UsageError) die('pidfile', EXIT_USAGE, `${err.message}\n${USAGE.split('\n')[0]}`);
    die('pidfile', EXIT_SYSTEM, (err as Error).message);
  }
  if (!outcome.ok) die('pidfile', EXIT_REFUSED, outcome.refused);
  if (outcome.message) process.stderr.write(`tether pidfile: ${outcome.message}\n`);
}

function run(argv: string[]): Outcome {
  const { options, operands } = parseOptions(argv, {
    help: { short: 'h', value: false },
    pid: { value: true },
    'pid-file': { value: true },
    grace: { value: true },
    'show-stacks': { value: false },
  }, false);
  if (options.has('help')) {
    process.stdout.write(USAGE);
    return { ok: true };
  }
  const [verb, ...extra] = operands;
  if (extra.length) throw new UsageError(`unexpected argument: ${extra[0]}`);
  const pidFile = options.get('pid-file');
  if (typeof pidFile !== 'string' || pidFile === '') throw new UsageError('--pid-file F is required');
  if (verb === 'claim') {
    if (options.has('grace') || options.has('show-stacks')) throw new UsageError('--grace and --show-stacks are for kill');
    const pid = parseUint(options.get('pid') as string | undefined, '--pid');
    if (pid < 2) throw new UsageError(`--pid ${pid} cannot be claimed`);
    return claimPidFile(pidFile, pid);
  }
  if (verb === 'kill') {
    if (options.has('pid')) throw new UsageError('--pid is for claim; kill reads the pid from --pid-file');
    const g = options.get('grace');
    const graceMs = g === undefined ? 20_000 : parseDuration(g as string);
    if (graceMs === null) throw new UsageError(`--grace needs a duration such as 20s, got ${JSON.stringify(g)}`);
    return killFromPidFile(pidFile, { graceMs, showStacks: options.has('show-stacks'), note: (m) => warn('pidfile', m) });
  }
  throw new UsageError(verb === undefined ? 'needs claim or kill' : `unknown verb: ${verb}`);
}
