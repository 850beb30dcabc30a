// Service names where the scan directory is known: `tether svc -r web
// --scandir services`, or TETHER_SCANDIR=services in the environment. A name
// without a slash then means SCANDIR/NAME; anything with a slash is a path.
import { join } from 'node:path';
import { usageError } from '../base/exit';
import type { OptionSpec } from '../base/getopt';

export const SCANDIR_ENV = 'TETHER_SCANDIR';

/** `--scandir DIR` (or `--scandir=DIR`), for a command's option spec. */
export const SCANDIR_OPTION: OptionSpec = { scandir: { value: true } };

/** The scan directory: `--scandir`, else TETHER_SCANDIR, else undefined. */
export function scandirOf(options: ReadonlyMap<string, string | true>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const given = options.get('scandir');
  if (given !== undefined) {
    if (typeof given !== 'string' || given === '') throw usageError('--scandir needs a directory');
    return given;
  }
  return env[SCANDIR_ENV] || undefined;
}

/** A service operand: NAME (no slash) under the scan directory, else the path itself. */
export function serviceDir(operand: string, scandir: string | undefined): string {
  if (scandir === undefined || operand.includes('/') || operand === '.' || operand === '..' || operand === '') return operand;
  return join(scandir, operand);
}

export function serviceDirs(operands: readonly string[], scandir: string | undefined): string[] {
  return operands.map((o) => serviceDir(o, scandir));
}

/** The help line every client that takes names shows. */
export const SCANDIR_HELP = `A NAME without a slash means SCANDIR/NAME when --scandir SCANDIR is given
or ${SCANDIR_ENV} is set.`;
