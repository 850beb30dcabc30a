// tether pidfile claim|kill: Cloud Foundry sipid's algorithms for start and
// stop scripts, guarded against reused pids.
import { claimPidFile, killFromPidFile, type Outcome } from '../daemon/sipid';
import { parseDuration, parseOptions, parseUint } from '../base/getopt';
import { usageError } from '../base/exit';
import { die, dieOn, setProgram, warn, type Command } from './lib/program';

const cmd: Command = {
  name: 'pidfile',
  usage: 'claim --pid PID --pid-file F | kill --pid-file F [--grace 20s] [--show-stacks]',
  help: `claim  creates F's directory, locks F (refuses if another process holds the
       lock), refuses if F names a live process it was written for, then
       writes PID and a newline.
kill   sends SIGTERM to the process F names, waits up to --grace for it to
       exit, sends SIGQUIT first if --show-stacks (Go and the JVM dump their
       stacks), then SIGKILL, and removes F. It refuses to signal a process
       that started after F was written: that pid was reused.

Durations: 500ms, 5s, 1m, 1h, 1m30s.
Exit: 0 done (or nothing to do); 1 refused; 100 usage; 111 system error.`,
};

const EXIT_REFUSED = 1;

export function main(argv: string[]): void {
  setProgram(cmd);
  let outcome: Outcome;
  try {
    outcome = run(argv);
  } catch (err) {
    dieOn(err);
  }
  if (!outcome.ok) die(EXIT_REFUSED, outcome.refused);
  if (outcome.message) process.stderr.write(`tether pidfile: ${outcome.message}\n`);
}

function run(argv: string[]): Outcome {
  const { options, operands } = parseOptions(argv, {
    pid: { value: true },
    'pid-file': { value: true },
    grace: { value: true },
    'show-stacks': { value: false },
  }, 'anywhere');
  const [verb, ...extra] = operands;
  if (extra.length) throw usageError(`unexpected argument: ${extra[0]}`);
  const pidFile = options.get('pid-file');
  if (typeof pidFile !== 'string' || pidFile === '') throw usageError('--pid-file F is required');
  if (verb === 'claim') {
    if (options.has('grace') || options.has('show-stacks')) throw usageError('--grace and --show-stacks are for kill');
    const pid = parseUint(options.get('pid'), '--pid');
    if (pid < 2) throw usageError(`--pid ${pid} cannot be claimed`);
    return claimPidFile(pidFile, pid);
  }
  if (verb === 'kill') {
    if (options.has('pid')) throw usageError('--pid is for claim; kill reads the pid from --pid-file');
    const g = options.get('grace');
    const graceMs = g === undefined ? 20_000 : parseDuration(g as string);
    if (graceMs === null) throw usageError(`--grace needs a duration such as 20s, got ${JSON.stringify(g)}`);
    return killFromPidFile(pidFile, { graceMs, showStacks: options.has('show-stacks'), note: warn });
  }
  throw usageError(verb === undefined ? 'needs claim or kill' : `unknown verb: ${verb}`);
}
