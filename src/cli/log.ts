// tether log: s6-log's interface, script language and on-disk format, for a
// service's log/run. It reads lines on stdin and runs them through the script.
import { fstatSync, readlinkSync } from 'node:fs';
import { usageError } from '../base/exit';
import { letters, parseOptions, parseUint } from '../base/getopt';
import { die, exitOnInternalError, parseCommandLine, warn, type Command } from './lib/program';
import { LogdirError } from '../log/logdir';
import { LOGDIR_BUFFER_BOUND, Logger, notifyReady } from '../log/logger';
import { parseScript, ScriptError } from '../log/script';

const cmd: Command = {
  name: 'log',
  usage: '[-d fd] [-q|-v] [-b] [-p] [-l linelimit] [-t ms] SCRIPT...   (or: [-n count] [-s size] DIR)',
  help: `Reads stdin line by line and runs each line through SCRIPT, s6-log's logging script:
  selection  +re -re (POSIX extended regexes on the raw line), f (lines no action took yet)
  control    nN archives kept (10), sN rotate near N bytes (99999; 4096..268435455),
             SN total archive bytes (0: no limit), lN tolerance (2000, at most s/2),
             rN retry after errors, ms (2000), RN rotate every N s (0: off), EN alert size (200),
             ^N status size (1001), pPREFIX / p, !PROCESSOR (execlineb -Pc) / ?PROCESSOR (/bin/sh -c),
             t TAI64N stamp and T local-time stamp, for the next action only
  actions    1 stdout, 2 alert on stderr, =FILE status file, DIR (starting with / or .) a logdir
Options:
  -d fd     write a newline to fd once every logdir is recovered and open
  -q, -v    fewer (alerts and fatal errors only), more messages
  -b        stop reading as soon as some output cannot be written
  -p        ignore SIGTERM (SIGHUP and end of input still end it)
  -l n      split lines after n bytes (8192; 0: never, else at least 48)
  -t ms     after SIGTERM or SIGHUP, wait at most ms for the end of a partial line (2000; 0: forever)
The old form "-n count -s size DIR" means the script "ncount ssize t DIR".
A logdir holds ${LOGDIR_BUFFER_BOUND / 1024 / 1024} MiB of output it cannot write (disk full); then stdin is no longer read
and the producer waits. Signals: TERM, HUP and INT end it once the current line is complete;
ALRM rotates every logdir. Exit: 0 at the end of input or after a signal, once everything is
written; 100 usage or script error; 111 system error.`,
};

interface LogArgs {
  words: string[];
  notifyFd: number | null;
  verbosity: number;
  block: boolean;
  protect: boolean;
  lineLimit: number;
  lastLineMs: number;
}

const LINE_LIMIT_MIN = 48;

function parseArgs(argv: string[]): LogArgs {
  const { sequence: options, operands } = parseOptions(argv, letters('qvbpl:d:t:n:s:'), 'posix');
  const out: LogArgs = { words: operands, notifyFd: null, verbosity: 1, block: false, protect: false, lineLimit: 8192, lastLineMs: 2000 };
  let oldCount: string | undefined;
  let oldSize: string | undefined;
  for (const { opt, arg } of options) {
    switch (opt) {
      case 'q':
        if (out.verbosity > 0) out.verbosity--;
        break;
      case 'v':
        out.verbosity++;
        break;
      case 'b':
        out.block = true;
        break;
      case 'p':
        out.protect = true;
        break;
      case 'l':
        out.lineLimit = parseUint(arg!, 'line limit');
        break;
      case 't':
        out.lastLineMs = parseUint(arg!, 'last line timeout');
        break;
      case 'd':
        out.notifyFd = notificationFd(arg!);
        break;
      case 'n':
        oldCount = String(parseUint(arg!, 'count'));
        break;
      case 's':
        oldSize = String(parseUint(arg!, 'size'));
        break;
    }
  }
  if (out.lineLimit && out.lineLimit < LINE_LIMIT_MIN) out.lineLimit = LINE_LIMIT_MIN;
  if (oldCount !== undefined || oldSize !== undefined) {
    if (operands.length !== 1) throw usageError('the form with -n and -s takes one DIR');
    const dir = /^[./]/.test(operands[0]) ? operands[0] : `./${operands[0]}`;
    out.words = [`n${oldCount ?? 10}`, `s${oldSize ?? 99_999}`, 't', dir];
  }
  if (out.words.length === 0) throw usageError('no logging script');
  return out;
}

function notificationFd(arg: string): number {
  const fd = parseUint(arg, 'notification fd');
  if (fd < 3) throw usageError('notification fd must be 3 or more');
  let target = '';
  try {
    fstatSync(fd);
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    throw usageError(`invalid notification fd: ${fd}`);
  }
  // Node's own event loop fds (epoll, eventfd) are open too, but were not given to us.
  if (target.startsWith('anon_inode:')) throw usageError(`invalid notification fd: ${fd}`);
  return fd;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandLine(cmd, () => parseArgs(argv));
  exitOnInternalError();
  let logger: Logger;
  try {
    const script = parseScript(args.words);
    if (args.verbosity > 0) for (const w of script.warnings) warn(w);
    logger = new Logger({ script, lineLimit: args.lineLimit, lastLineMs: args.lastLineMs, block: args.block, protect: args.protect, verbosity: args.verbosity, progName: 'tether log' });
    logger.init();
  } catch (err) {
    if (err instanceof ScriptError) die(100, err.message);
    if (err instanceof LogdirError) die(111, err.message);
    throw err;
  }
  const stop = () => logger.terminate();
  process.on('SIGTERM', () => {
    if (!args!.protect) stop();
  });
  process.on('SIGHUP', stop);
  process.on('SIGINT', stop);
  process.on('SIGALRM', () => logger.rotateAll());
  // Node would open its inspector on SIGUSR1: a logger has no use for one.
  process.on('SIGUSR1', () => {});
  logger.start();
  if (args.notifyFd !== null) notifyReady(args.notifyFd);
  process.exit(await logger.done);
}
