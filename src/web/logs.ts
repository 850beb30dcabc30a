// A service's log over HTTP, read by the same library as `tether logs`
// (src/log/reader.ts): the last N lines, then, when following, each new
// batch as it is logged, across rotations. Lines travel as JSON strings, as
// `tether logs --json` prints them; the page puts them in as text.
import type { ServerResponse } from 'node:http';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { closeCursors, findLogSources, followLogs, isLogdir, readHistory, type LogRecord, type LogSource } from '../log/reader';
import { isoStamp } from '../log/timefmt';
import { describe } from '../base/errno';
import { HttpError, sendJson } from './http';
import { Follower, openStream, sseRecord } from './hub';
import type { ServiceRef } from './services';

export const DEFAULT_LINES = 100;
export const MAX_LINES = 10_000;

/** One line as `tether logs --json` prints it. */
export function jsonLine(r: LogRecord): { ts: string | null; service: string; line: string } {
  return { ts: r.ts ? isoStamp(r.ts) : null, service: r.service, line: r.line.toString('utf8') };
}

export function parseLines(text: string | null): number {
  if (text === null) return DEFAULT_LINES;
  if (!/^[0-9]+$/.test(text) || Number(text) > MAX_LINES) throw new HttpError(400, `n must be a whole number from 0 to ${MAX_LINES}`);
  return Number(text);
}

/** The logdirs of a service (its log/* directories); a logger `NAME/log` shows NAME's. */
export function logSources(ref: ServiceRef): LogSource[] {
  const service = ref.name.endsWith('/log') ? ref.dir.replace(/\/log\/*$/, '') : ref.dir;
  const logRoot = join(service, 'log');
  let names: string[] = [];
  try {
    names = readdirSync(logRoot).filter((n) => !n.startsWith('.') && isLogdir(join(logRoot, n))).sort();
  } catch {
    // no log/ at all
  }
  if (names.length === 0) throw new HttpError(404, `no log directory for ${ref.name}`);
  return findLogSources(names.map((n) => join(logRoot, n)));
}

function history(sources: LogSource[], lines: number) {
  try {
    return readHistory(sources, { lines });
  } catch (err) {
    throw new HttpError(500, `unable to read the log: ${describe(err)}`);
  }
}

/** The last `lines` lines as one JSON answer. */
export function sendLog(res: ServerResponse, ref: ServiceRef, lines: number): void {
  const { records, cursors } = history(logSources(ref), lines);
  closeCursors(cursors);
  sendJson(res, 200, { service: ref.name, lines: records.map(jsonLine) });
}

/**
 * The last `lines` lines, then every new one, as `lines` events. Returns
 * the stream's follower (for heartbeats); closing the request stops it.
 */
export function followLog(res: ServerResponse, ref: ServiceRef, lines: number, onClose: (f: Follower) => void): Follower {
  const { records, cursors } = history(logSources(ref), lines);
  const follower = new Follower(res, ref.name);
  openStream(res);
  follower.send(sseRecord('lines', { lines: records.map(jsonLine) }));
  const handle = followLogs(cursors, (batch) => {
    if (!follower.send(sseRecord('lines', { lines: batch.map(jsonLine) }))) handle.close();
  }, (err) => {
    follower.send(sseRecord('error', { message: `unable to follow the log: ${describe(err)}` }));
    res.end();
  });
  res.on('close', () => {
    handle.close();
    onClose(follower);
  });
  return follower;
}
