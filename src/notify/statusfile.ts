// supervise/notify-status: what tether knows beyond s6's status record, for
// `tether status` and --json: the service's STATUS= line, its flags, the last
// health check, and why the supervisor last took it down. One JSON object on
// one line, replaced atomically; the temporary file is created with O_EXCL and
// O_NOFOLLOW, so a symlink planted in supervise/ is never written through.
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

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
  const tmp = `${path}.new`;
  try {
    unlinkSync(tmp);
  } catch {
    // usually absent
  }
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  try {
    const data = Buffer.from(`${JSON.stringify(st)}\n`);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
