// The sd_notify protocol, parsed as systemd's manager parses it
// (manager_dispatch_notify_fd, service_notify_message): one datagram of
// newline-separated KEY=VALUE lines, a trailing newline implied, unknown keys
// ignored, the first occurrence of a key winning. Pure: no socket, no clock.
import { DATAGRAM_MAX } from '../os/socket';

export type DropReason = 'too long' | 'truncated control data' | 'embedded NUL' | 'no credentials';

export interface NotifyMessage {
  ready: boolean;
  stopping: boolean;
  reloading: boolean;
  /** CLOCK_MONOTONIC µs given with RELOADING=1. */
  monotonicUsec?: bigint;
  /** STATUS=, one line of UTF-8. */
  status?: string;
  mainPid?: number;
  /** WATCHDOG=1 is a ping; WATCHDOG=trigger fires the watchdog at once. */
  watchdog?: 'ping' | 'trigger';
  watchdogUsec?: bigint;
  extendTimeoutUsec?: bigint;
  barrier: boolean;
  /** BARRIER=1 alone: sd_notify_barrier()'s datagram, answered by closing its fd, whoever sent it. */
  barrierOnly: boolean;
  fdStore: boolean;
  errno?: number;
  exitStatus?: number;
}

/** Why a received datagram is refused whole before its text is read; undefined if it is fine. */
export function dropReason(d: { payload: Buffer; truncated: boolean; controlTruncated: boolean; cred: unknown }): DropReason | undefined {
  if (d.truncated || d.payload.length > DATAGRAM_MAX) return 'too long';
  if (d.controlTruncated) return 'truncated control data';
  if (d.cred === undefined) return 'no credentials';
  // systemd tolerates exactly one NUL, at the very end (some clients send the C string's).
  const nul = d.payload.indexOf(0);
  if (nul >= 0 && nul !== d.payload.length - 1) return 'embedded NUL';
  return undefined;
}

/** µs as systemd's safe_atou64: decimal digits only, no sign, within 64 bits. */
function usec(v: string | undefined): bigint | undefined {
  if (v === undefined || !/^[0-9]{1,20}$/.test(v)) return undefined;
  const n = BigInt(v);
  return n <= 0xffffffffffffffffn ? n : undefined;
}

function int(v: string | undefined, max: number): number | undefined {
  if (v === undefined || !/^[0-9]{1,10}$/.test(v)) return undefined;
  const n = Number(v);
  return n <= max ? n : undefined;
}

/** The first value of each key; lines without '=' are ignored, as systemd ignores them. */
function fields(payload: Buffer): Map<string, string> {
  let text = payload.toString('utf8');
  if (text.endsWith('\0')) text = text.slice(0, -1);
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!out.has(key)) out.set(key, line.slice(eq + 1));
  }
  return out;
}

export function parseMessage(payload: Buffer): NotifyMessage {
  const f = fields(payload);
  const watchdog = f.get('WATCHDOG');
  const status = f.get('STATUS');
  return {
    ready: f.get('READY') === '1',
    stopping: f.get('STOPPING') === '1',
    reloading: f.get('RELOADING') === '1',
    monotonicUsec: usec(f.get('MONOTONIC_USEC')),
    // Invalid UTF-8 decodes to U+FFFD: systemd ignores such a STATUS, so do we.
    status: status !== undefined && !status.includes('\ufffd') ? status : undefined,
    mainPid: (() => {
      const pid = int(f.get('MAINPID'), 2 ** 31 - 1);
      return pid !== undefined && pid > 0 ? pid : undefined;
    })(),
    watchdog: watchdog === '1' ? 'ping' : watchdog === 'trigger' ? 'trigger' : undefined,
    watchdogUsec: usec(f.get('WATCHDOG_USEC')),
    extendTimeoutUsec: usec(f.get('EXTEND_TIMEOUT_USEC')),
    barrier: f.get('BARRIER') === '1',
    barrierOnly: f.size === 1 && f.get('BARRIER') === '1',
    fdStore: f.get('FDSTORE') === '1',
    errno: int(f.get('ERRNO'), 4095),
    exitStatus: int(f.get('EXIT_STATUS'), 255),
  };
}

/** µs to whole ms for a timer, rounded up (a 1 µs period is not 0) and capped at a Node timer's range. */
export function usecToMs(us: bigint): number {
  const ms = (us + 999n) / 1000n;
  return ms > 2147483647n ? 2147483647 : Number(ms);
}
