// TAI64N timestamps as s6 stores them: 8 bytes of 2^62 + TAI seconds, then 4
// bytes of nanoseconds, big-endian. skalibs (as Debian builds it) counts TAI
// as unix time + 10 + 27 leap seconds, so the label is 2^62 + unix + 37.

export const TAI_OFFSET = 37n;
const TAI_BASE = 1n << 62n;

/** A wall-clock instant: whole unix seconds plus nanoseconds. */
export interface Tain {
  readonly secs: number;
  readonly nano: number;
}

export const TAIN_SIZE = 12;

export function tainFromMs(ms: number): Tain {
  const secs = Math.floor(ms / 1000);
  return { secs, nano: Math.min(999_999_999, Math.round((ms - secs * 1000) * 1e6)) };
}

/** The wall clock, read fresh each time: a long-lived supervisor must follow clock steps as s6 does. */
export function tainNow(): Tain {
  return tainFromMs(Date.now());
}

export function tainToMs(t: Tain): number {
  return t.secs * 1000 + t.nano / 1e6;
}

export function packTain(t: Tain, buf: Buffer, offset: number): void {
  buf.writeBigUInt64BE(TAI_BASE + BigInt(t.secs) + TAI_OFFSET, offset);
  buf.writeUInt32BE(t.nano, offset + 8);
}

export function unpackTain(buf: Buffer, offset: number): Tain {
  const label = buf.readBigUInt64BE(offset);
  return { secs: Number(label - TAI_BASE - TAI_OFFSET), nano: buf.readUInt32BE(offset + 8) };
}

/** s6's text form: `@` and the 24 lowercase hex digits of the packed stamp. */
export function formatTain(t: Tain): string {
  const buf = Buffer.alloc(TAIN_SIZE);
  packTain(t, buf, 0);
  return `@${buf.toString('hex')}`;
}

export function parseTain(text: string): Tain | null {
  if (!/^@[0-9a-fA-F]{24}$/.test(text)) return null;
  return unpackTain(Buffer.from(text.slice(1), 'hex'), 0);
}

/** Whole seconds from `from` to `to`, as s6-svstat counts them (never negative). */
export function secondsBetween(from: Tain, to: Tain): number {
  const d = to.secs - from.secs - (to.nano < from.nano ? 1 : 0);
  return d < 0 ? 0 : d;
}
