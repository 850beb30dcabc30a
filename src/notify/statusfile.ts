// Writes supervise/notify-status (its format: wire/notifystatus.ts) through
// wire/atomic.ts, whose temporary file is created O_EXCL|O_NOFOLLOW: a
// symlink planted in supervise/ is never written through.
import { writeFileAtomic } from '../wire/atomic';
import { encodeNotifyStatus, NOTIFY_STATUS_FILE, type NotifyStatus } from '../wire/notifystatus';

export { NOTIFY_STATUS_FILE, type NotifyStatus };

export function writeNotifyStatus(path: string, st: NotifyStatus): void {
  writeFileAtomic(path, encodeNotifyStatus(st));
}
