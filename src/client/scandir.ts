// Service names where the scan directory is known: `tether svc -r web
// --scandir services`, or TETHER_SCANDIR=services in the environment. A name
// without a slash then means SCANDIR/NAME; anything with a slash is a path.
import { join } from 'node:path';
import { UsageError } from './errors';

export const SCANDIR_ENV = 'TETHER_SCANDIR';

/**
 * Takes `--scandir DIR` or `--scandir=DIR` out of the words before `--`;
 * returns it, or TETHER_SCANDIR, or undefined.
 */
export function takeScandir(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { scandir?: string; rest: string[] } {
  const rest: string[] = [];
  let scandir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (word === '--scandir') {
      scandir = argv[++i];
      if (scandir === undefined || scandir === '') throw new UsageError('--scandir needs a directory');
    } else if (word.startsWith('--scandir=')) {
      scandir = word.slice('--scandir='.length);
      if (scandir === '') throw new UsageError('--scandir needs a directory');
    } else {
      rest.push(word);
    }
  }
  if (scandir === undefined && env[SCANDIR_ENV]) scandir = env[SCANDIR_ENV];
  return { scandir, rest };
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
