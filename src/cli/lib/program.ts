// How a command reports and ends, after skalibs' strerr: the program name is
// set once, then warn, die with a code, dieUsage (100) or dieSystem (111).
// Only src/cli/ ends the process; the library below throws Failures.
import { EXIT_SYSTEM, EXIT_USAGE, Failure, usageError } from '../../base/exit';
import { describe } from '../../base/errno';
import { HelpRequested, parseOptions } from '../../base/getopt';
import { closeAllWatches } from '../../client/registry';

export interface Command {
  /** `svc`, printed as `tether svc`. */
  name: string;
  /** The synopsis after `tether NAME`, one line. */
  usage: string;
  /** What --help prints after the synopsis. */
  help?: string;
}

let current: Command = { name: '', usage: '' };

/** Names the running command once, for every message after. */
export function setProgram(cmd: Command): void {
  current = cmd;
}

function prefix(): string {
  return current.name ? `tether ${current.name}` : 'tether';
}

export function warn(message: string): void {
  process.stderr.write(`${prefix()}: warning: ${message}\n`);
}

/** Prints a fatal message without exiting, for a command that reports several. */
export function fatal(message: string): void {
  process.stderr.write(`${prefix()}: fatal: ${message}\n`);
}

export function die(code: number, message: string): never {
  fatal(message);
  process.exit(code);
}

/** The synopsis, and what was wrong with the command line if `detail` says, as one line; exit 100. */
export function dieUsage(detail?: string): never {
  fatal(usageLine(detail));
  process.exit(EXIT_USAGE);
}

export function dieSystem(message: string): never {
  die(EXIT_SYSTEM, message);
}

function usageLine(detail?: string): string {
  return `usage: ${prefix()} ${current.usage}${detail ? ` (usage error: ${detail})` : ''}`;
}

export function printHelp(): void {
  const help = current.help ? `\n${current.help.replace(/\n*$/, '\n')}` : '';
  process.stdout.write(`usage: ${prefix()} ${current.usage}\n${help}`);
}

/**
 * Prints what `err` means and returns its exit code: the help and 0 for
 * HelpRequested, a Failure's own, 111 for anything else.
 */
export function report(err: unknown): number {
  if (err instanceof HelpRequested) {
    printHelp();
    return 0;
  }
  if (err instanceof Failure) {
    fatal(err.usage ? usageLine(err.message) : err.message);
    return err.exitCode;
  }
  fatal(describe(err));
  return EXIT_SYSTEM;
}

/** Ends the process as `err` says (see report). */
export function dieOn(err: unknown): never {
  process.exit(report(err));
}

/**
 * Names the running command and returns what `parse` makes of its command
 * line. A wrong one ends the process (100), and so does a request for help,
 * once the help is printed (0): see report.
 */
export function parseCommandLine<T>(cmd: Command, parse: () => T): T {
  setProgram(cmd);
  try {
    return parse();
  } catch (err) {
    dieOn(err);
  }
}

/**
 * Runs a command body and turns its outcome into process.exitCode: the
 * number it returns, or the code of what it throws. Never calls
 * process.exit, so stdout is flushed.
 */
export async function runCommand(cmd: Command, body: () => number | Promise<number>): Promise<void> {
  setProgram(cmd);
  exitOnInternalError();
  try {
    process.exitCode = await body();
  } catch (err) {
    process.exitCode = report(err);
  }
}

/**
 * An error nothing caught (a bug, or a fault from outside) ends the command
 * with one line on stderr and 111, as s6's programs die on what they cannot
 * handle. `handler` replaces the exit, for svscan's `.s6-svscan/crash`.
 */
export function exitOnInternalError(handler?: (err: unknown) => void): void {
  const onError = (err: unknown) => {
    fatal(internalErrorText(err));
    if (handler) handler(err);
    else process.exit(EXIT_SYSTEM);
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
}

/** One line: the error, and where it was thrown. */
function internalErrorText(err: unknown): string {
  if (!(err instanceof Error)) return `internal error: ${String(err)}`;
  const frame = err.stack?.split('\n').find((l) => l.trimStart().startsWith('at '))?.trim();
  return `${String(err)}${frame ? ` (internal error, ${frame})` : ' (internal error)'}`.replace(/\s*\n\s*/g, ' ');
}

/** No option but the help, and one service directory. */
export function soleDirOperand(argv: readonly string[]): string {
  const { operands } = parseOptions(argv, {}, 'posix-long');
  if (operands[0] === undefined) throw usageError('no service directory');
  return operands[0];
}

/**
 * While a command waits on events, SIGINT, SIGTERM or SIGHUP must still
 * unlink its listener FIFOs before the process dies of it.
 */
export function unsubscribeOnSignals(): void {
  for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.once(sig, () => {
      closeAllWatches();
      process.exit(128 + num);
    });
  }
}

/**
 * Runs a long-running command: `start` returns the promise of its exit code;
 * the process exits with that code, or as what `start` throws or the promise
 * rejects with says.
 */
export function runUntilEnded(cmd: Command, start: () => Promise<number>): void {
  setProgram(cmd);
  exitOnInternalError();
  try {
    start().then((code) => process.exit(code), dieOn);
  } catch (err) {
    dieOn(err);
  }
}

/** A Command from a help text that begins `usage: tether NAME SYNOPSIS`, then a blank line. */
export function commandFromHelp(name: string, text: string): Command {
  const nl = text.indexOf('\n');
  return { name, usage: text.slice(`usage: tether ${name} `.length, nl), help: text.slice(nl).replace(/^\n+/, '') };
}
