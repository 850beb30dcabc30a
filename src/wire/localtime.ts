// TAI64N labels as local time, the way s6-tai64nlocal (skalibs) shows them:
// TAI is turned into UTC through the table of leap seconds, so a label from
// 1991 is 26 s off TAI and one from now 37 s, then into the local time zone.

const TAI_BASE = 1n << 62n;
/** TAI counts 10 s ahead of UTC before the first leap second. */
const TAI_UTC_BASE = 10;

/** Unix times (UTC) at which TAI - UTC grew by one second (after 23:59:60). */
const LEAP_SECONDS = [
  '1972-07-01', '1973-01-01', '1974-01-01', '1975-01-01', '1976-01-01', '1977-01-01', '1978-01-01',
  '1979-01-01', '1980-01-01', '1981-07-01', '1982-07-01', '1983-07-01', '1985-07-01', '1988-01-01',
  '1990-01-01', '1991-01-01', '1992-07-01', '1993-07-01', '1994-07-01', '1996-01-01', '1997-07-01',
  '1999-01-01', '2006-01-01', '2009-01-01', '2012-07-01', '2015-07-01', '2017-01-01',
].map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);

/**
 * Unix seconds of a TAI second count (seconds since 1970 TAI), and whether
 * it is an inserted leap second itself, shown as second 60 of the minute
 * before (23:59:60 UTC).
 */
export function utcFromTai(tai: number): { unix: number; leap: boolean } {
  let leaps = 0;
  for (let i = 0; i < LEAP_SECONDS.length; i++) {
    if (tai - TAI_UTC_BASE - i === LEAP_SECONDS[i]) return { unix: LEAP_SECONDS[i] - 1, leap: true };
    if (tai - TAI_UTC_BASE - (i + 1) >= LEAP_SECONDS[i]) leaps = i + 1;
  }
  return { unix: tai - TAI_UTC_BASE - leaps, leap: false };
}

const LABEL = /^@([0-9a-fA-F]{16})([0-9a-fA-F]{8})/;
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A line with its leading `@` + 24 hex digits replaced by
 * `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` in local time (TZ); any other line as is.
 */
export function localizeLine(line: string): string {
  const m = LABEL.exec(line);
  if (!m) return line;
  const label = BigInt(`0x${m[1]}`);
  if (label < TAI_BASE) return line;
  const utc = utcFromTai(Number(label - TAI_BASE));
  const d = new Date(utc.unix * 1000);
  // skalibs prints 9 digits even of an out-of-range nanosecond field: the first 9.
  const nano = parseInt(m[2], 16);
  if (Number.isNaN(d.getTime())) return line;
  const stamp = `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}:${utc.leap ? '60' : pad(d.getSeconds())}.${pad(nano, 9).slice(0, 9)}`;
  return stamp + line.slice(25);
}
