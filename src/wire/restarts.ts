// supervise/restarts: how many times a service was started again since the
// tree it belongs to started (tether svscan keeps it; s6 has no such file).
// One decimal number and a newline, replaced whole.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic';

export function restartsPath(dir: string): string {
  return join(dir, 'supervise', 'restarts');
}

export function writeRestarts(dir: string, count: number): void {
  writeFileAtomic(restartsPath(dir), Buffer.from(`${count}\n`));
}

/** The count, or null where nobody keeps one (not under tether svscan, never started). */
export function readRestarts(dir: string): number | null {
  try {
    const m = /^([0-9]+)\n$/.exec(readFileSync(restartsPath(dir), 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
