// What every client command shares: s6-style messages on stderr (`tether
// svc: fatal: ...`), exit codes carried by ClientError, a synopsis for -h.
import { ClientError, EXIT_SYSTEM, EXIT_USAGE, UsageError, describe } from './errors';
import { closeAllWatches } from './registry';
import { getopt, takeLongOptions } from './getopt';

export interface Command {
  /** `svc`, printed as `tether svc`. */
  name: string;
  /** The synopsis after `tether NAME`. */
  usage: string;
  /** Extra lines for --help. */
  help?: string;
}

export function warn(cmd: Command, message: string): void {
  process.stderr.write(`tether ${cmd.name}: warning: ${message}\n`);
}

export function fail(cmd: Command, message: string): void {
  process.stderr.write(`tether ${cmd.name}: fatal: ${message}\n`);
}

export function printHelp(cmd: Command): void {
  process.stdout.write(`usage: tether ${cmd.name} ${cmd.usage}\n${cmd.help ? `\n${cmd.help.replace(/\n*$/, '\n')}` : ''}`);
}

/**
 * For commands whose one argument is a service directory (svok,
 * svdt-clear): that directory, or null once the help has been printed.
 */
export function soleDirOperand(cmd: Command, argv: readonly string[]): string | null {
  const { long, rest } = takeLongOptions(argv, ['help']);
  const { options, operands } = getopt(rest, 'h');
  if (long.has('help') || options.length > 0) {
    printHelp(cmd);
    return null;
  }
  if (operands[0] === undefined) throw new UsageError('no service directory');
  return operands[0];
}

/**
 * Runs a command body and turns its outcome into process.exitCode: the
 * number it returns, or the code of the ClientError it throws. Never calls
 * process.exit, so stdout is flushed.
 */
export async function runCommand(cmd: Command, body: () => number | Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tether ${cmd.name}: usage: tether ${cmd.name} ${cmd.usage} (${err.message})\n`);
      process.exitCode = EXIT_USAGE;
    } else if (err instanceof ClientError) {
      fail(cmd, err.message);
      process.exitCode = err.exitCode;
    } else {
      fail(cmd, describe(err));
      process.exitCode = EXIT_SYSTEM;
    }
  }
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
