// Times as loggers and log readers print them.
import { parseTain, tainFromMs, type Tain } from '../wire/tain';

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** skalibs' localtmn_fmt, as s6-log's `T` and s6-tai64nlocal print: `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, local time. */
export function localStamp(t: Tain): string {
  const d = new Date(t.secs * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1, 2)}-${pad(d.getDate(), 2)} ${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(t.nano, 9)}`;
}

/** ISO 8601 in UTC, to the nanosecond: `2026-11-30T23:46:33.339000000Z`. */
export function isoStamp(t: Tain): string {
  return `${new Date(t.secs * 1000).toISOString().slice(0, 19)}.${pad(t.nano, 9)}Z`;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time given on a command line: a TAI64N label (`@4000...`), a
 * duration before now (`90s`, `15m`, `2h`, `7d`), a date (`2026-11-30`,
 * local midnight) or a date and time (`2026-11-30 14:05:00`, local unless
 * it names a zone). Null if it is none of these.
 */
export function parseTime(text: string, nowMs = Date.now()): Tain | null {
  if (text.startsWith('@')) return parseTain(text);
  const ago = /^([0-9]+)([smhd])$/.exec(text);
  if (ago) return tainFromMs(nowMs - Number(ago[1]) * UNIT_MS[ago[2]]);
  const day = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
  if (day) return tainFromMs(new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])).getTime());
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}/.test(text)) return null;
  const ms = Date.parse(text.replace(' ', 'T'));
  return Number.isNaN(ms) ? null : tainFromMs(ms);
}

/** Orders two instants. */
export function compareTain(a: Tain, b: Tain): number {
  return a.secs !== b.secs ? a.secs - b.secs : a.nano - b.nano;
}

