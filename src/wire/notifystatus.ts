// supervise/notify-status: what tether knows beyond s6's status record (a
// tether extension, written only for services that use notify-socket,
// watchdog-usec or check): the service's STATUS= line, its flags, the last
// health check, and why the supervisor last took it down. One JSON object on
// one line, replaced atomically. The supervisor writes it (notify/statusfile.ts);
// `tether status` and `tether web` read it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NotifyStatus {
  /** STATUS= as the service last sent it. */
  status?: string;
  stopping?: boolean;
  reloading?: boolean;
  mainpid?: number;
  errno?: number;
  exit_status?: number;
  /** The watchdog period in µs, while one applies. */
  watchdog_usec?: number;
  /** The last check's result, and since when checks give it. */
  check?: { ok: boolean; code?: number; timed_out: boolean; failures: number; since: string };
  /** Why the supervisor took the service down last time: "watchdog" or "health". */
  reason?: 'watchdog' | 'health';
}

export const NOTIFY_STATUS_FILE = 'notify-status';

export function encodeNotifyStatus(st: NotifyStatus): Buffer {
  return Buffer.from(`${JSON.stringify(st)}\n`);
}

/**
 * DIR/supervise/notify-status, or null where there is none (s6's
 * supervisor, or no extension in use). A file that does not parse as an
 * object is null too: it is written whole (rename), so that is not ours.
 */
export function readNotifyStatus(dir: string): NotifyStatus | null {
  let text: string;
  try {
    text = readFileSync(join(dir, 'supervise', NOTIFY_STATUS_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const st: unknown = JSON.parse(text);
    return typeof st === 'object' && st !== null && !Array.isArray(st) ? (st as NotifyStatus) : null;
  } catch {
    return null;
  }
}
