// supervise/death_tally: one 14-byte record per death of run, oldest first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic';
import { TAIN_SIZE, packTain, unpackTain, type Tain } from './tain';
import { wstatSignaled, wstatTermsig, wstatToCode } from './signals';
import { errnoOf } from '../base/errno';

export const DEATH_SIZE = 14;
export const MAX_DEATH_TALLY = 4096;
export const DEFAULT_DEATH_TALLY = 100;

export interface DeathRecord {
  stamp: Tain;
  /** The exit code, or 128 + the signal. */
  exitcode: number;
  /** The signal that killed run, or 0. */
  sig: number;
}

export function deathFromWstat(stamp: Tain, wstat: number): DeathRecord {
  return { stamp, exitcode: wstatToCode(wstat) & 0xff, sig: wstatSignaled(wstat) ? wstatTermsig(wstat) : 0 };
}

export function encodeDeathTally(records: readonly DeathRecord[]): Buffer {
  const buf = Buffer.alloc(records.length * DEATH_SIZE);
  records.forEach((r, i) => {
    const off = i * DEATH_SIZE;
    packTain(r.stamp, buf, off);
    buf[off + TAIN_SIZE] = r.exitcode;
    buf[off + TAIN_SIZE + 1] = r.sig;
  });
  return buf;
}

/** A size that is not a whole number of records is treated as empty, as s6 does. */
export function decodeDeathTally(buf: Buffer): DeathRecord[] {
  if (buf.length % DEATH_SIZE !== 0) return [];
  const out: DeathRecord[] = [];
  for (let off = 0; off < buf.length; off += DEATH_SIZE) {
    out.push({ stamp: unpackTain(buf, off), exitcode: buf[off + TAIN_SIZE], sig: buf[off + TAIN_SIZE + 1] });
  }
  return out;
}

/** Appends `rec` and drops the oldest records beyond `max`. */
export function appendDeath(records: readonly DeathRecord[], rec: DeathRecord, max: number): DeathRecord[] {
  if (max <= 0) return [];
  const all = [...records, rec];
  return all.slice(Math.max(0, all.length - max));
}

/**
 * The bytes of a tally with `rec` appended to `current` (the file as it is),
 * keeping the newest `max` records: the same as decoding, appending and
 * encoding again, without a record object per death. A size that is not a
 * whole number of records counts as empty, as in decodeDeathTally.
 */
export function appendDeathBytes(current: Buffer, rec: DeathRecord, max: number): Buffer {
  if (max <= 0) return Buffer.alloc(0);
  const have = current.length % DEATH_SIZE === 0 ? current.length / DEATH_SIZE : 0;
  const keep = Math.min(have, max - 1);
  const out = Buffer.allocUnsafe((keep + 1) * DEATH_SIZE);
  current.copy(out, 0, (have - keep) * DEATH_SIZE, have * DEATH_SIZE);
  const off = keep * DEATH_SIZE;
  packTain(rec.stamp, out, off);
  out[off + TAIN_SIZE] = rec.exitcode;
  out[off + TAIN_SIZE + 1] = rec.sig;
  return out;
}

export function deathTallyPath(dir: string): string {
  return join(dir, 'supervise', 'death_tally');
}

export function readDeathTally(dir: string): DeathRecord[] {
  try {
    return decodeDeathTally(readFileSync(deathTallyPath(dir)));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
}

export function writeDeathTally(dir: string, records: readonly DeathRecord[]): void {
  writeFileAtomic(deathTallyPath(dir), encodeDeathTally(records), 0o666);
}
