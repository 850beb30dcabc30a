// supervise/status: the 35-byte record every s6 client reads.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic';
import { TAIN_SIZE, packTain, unpackTain, type Tain } from './tain';

export const STATUS_SIZE = 35;
/** s6 2.13.0.0 to 2.13.2.0 put a pgid before wstat; readers accept it. */
export const STATUS_SIZE_2_13 = 43;

const PAUSED = 0x01;
const FINISHING = 0x02;
const WANTUP = 0x04;
const READY = 0x08;

export interface StatusRecord {
  /** Last up/down change: spawn of run, or its death. */
  stamp: Tain;
  /** Last time the service became ready, or down-and-ready. */
  readystamp: Tain;
  /** run's pid while up; finish's pid while finishing; 0 when down. */
  pid: number;
  /** Raw wait status of the last run. */
  wstat: number;
  paused: boolean;
  finishing: boolean;
  wantup: boolean;
  ready: boolean;
}

export function encodeStatus(s: StatusRecord): Buffer {
  const buf = Buffer.alloc(STATUS_SIZE);
  packTain(s.stamp, buf, 0);
  packTain(s.readystamp, buf, TAIN_SIZE);
  buf.writeBigUInt64BE(BigInt(s.pid), 24);
  buf.writeUInt16BE(s.wstat & 0xffff, 32);
  buf[34] = (s.paused ? PAUSED : 0) | (s.finishing ? FINISHING : 0) | (s.wantup ? WANTUP : 0) | (s.ready ? READY : 0);
  return buf;
}

export function decodeStatus(buf: Buffer): StatusRecord {
  if (buf.length !== STATUS_SIZE && buf.length !== STATUS_SIZE_2_13) {
    throw Object.assign(new Error(`status record is ${buf.length} bytes, expected ${STATUS_SIZE}`), { code: 'EPROTO' });
  }
  const tail = buf.length - 3;
  const flags = buf[tail + 2];
  return {
    stamp: unpackTain(buf, 0),
    readystamp: unpackTain(buf, TAIN_SIZE),
    pid: Number(buf.readBigUInt64BE(24)),
    wstat: buf.readUInt16BE(tail),
    paused: (flags & PAUSED) !== 0,
    finishing: (flags & FINISHING) !== 0,
    wantup: (flags & WANTUP) !== 0,
    ready: (flags & READY) !== 0,
  };
}

/** Up means a run process exists: a pid, and not the pid of finish. */
export function isUp(s: StatusRecord): boolean {
  return s.pid !== 0 && !s.finishing;
}

/** The newest s6 marks a supervisor that has not spawned run yet with paused and no pid. */
export function notStartedYet(s: StatusRecord): boolean {
  return s.pid === 0 && !s.finishing && s.paused;
}

export function statusPath(dir: string): string {
  return join(dir, 'supervise', 'status');
}

export function readStatus(dir: string): StatusRecord {
  return decodeStatus(readFileSync(statusPath(dir)));
}

export function writeStatus(dir: string, s: StatusRecord): void {
  writeFileAtomic(statusPath(dir), encodeStatus(s), 0o666);
}
