// supervise/notify-status: what tether knows beyond s6's status record, for
// `tether status` and --json: the service's STATUS= line, its flags, the last
// health check, and why the supervisor last took it down. One JSON object on
// one line, replaced atomically by wire/atomic.ts, whose temporary file is
// created O_EXCL|O_NOFOLLOW: a symlink planted in supervise/ is never written through.
import { writeFileAtomic } from '../wire/atomic';

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

export function writeNotifyStatus(path: string, st: NotifyStatus): void {
  writeFileAtomic(path, Buffer.from(`${JSON.stringify(st)}\n`));
}
