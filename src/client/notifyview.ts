// tether's readiness extensions as `tether status` and `tether web` show them:
// supervise/notify-status (wire/notifystatus.ts) read beside s6's status.
import { readNotifyStatus } from '../wire/notifystatus';

export interface NotifyView {
  /** The service's last STATUS= line. */
  status: string | null;
  stopping: boolean;
  reloading: boolean;
  /** MAINPID= as accepted, ERRNO= and EXIT_STATUS= as sent. */
  mainPid: number | null;
  errno: number | null;
  exitStatus: number | null;
  /** The watchdog period; armed while the service is up and ready. */
  watchdog: { usec: number; armed: boolean } | null;
  /** The last health check's result (`check`), while checks run or since the last one. */
  check: { ok: boolean; code: number | null; timedOut: boolean; failures: number; since: string; sinceMs: number } | null;
  /** Why the supervisor last took the service down: "watchdog" or "health"; null for anything else. */
  reason: 'watchdog' | 'health' | null;
}

/** The view of DIR's notify-status, or null where its supervisor writes none. */
export function readNotifyView(dir: string, upAndReady: boolean): NotifyView | null {
  const st = readNotifyStatus(dir);
  if (st === null) return null;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const usec = num(st.watchdog_usec);
  const c = st.check;
  return {
    status: typeof st.status === 'string' ? st.status : null,
    stopping: st.stopping === true,
    reloading: st.reloading === true,
    mainPid: num(st.mainpid),
    errno: num(st.errno),
    exitStatus: num(st.exit_status),
    watchdog: usec !== null && usec > 0 ? { usec, armed: upAndReady } : null,
    check: c && typeof c === 'object'
      ? { ok: c.ok === true, code: num(c.code), timedOut: c.timed_out === true, failures: num(c.failures) ?? 0, since: String(c.since), sinceMs: Date.parse(String(c.since)) }
      : null,
    reason: st.reason === 'watchdog' || st.reason === 'health' ? st.reason : null,
  };
}

/** Control characters a service could use to rewrite a terminal become `?`. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** One table cell: the STATUS= line (cut at `max`), then the watchdog, the check and the last reason. */
export function notifyCell(v: NotifyView, max = 60): string {
  const parts: string[] = [];
  if (v.status !== null) {
    const s = printable(v.status);
    parts.push(`"${s.length > max ? `${s.slice(0, max - 1)}…` : s}"`);
  }
  if (v.stopping) parts.push('stopping');
  if (v.reloading) parts.push('reloading');
  if (v.watchdog) parts.push(`watchdog ${Math.ceil(v.watchdog.usec / 1000)}ms ${v.watchdog.armed ? 'armed' : 'idle'}`);
  if (v.check) {
    const why = v.check.timedOut ? 'timed out' : v.check.code === null ? 'killed' : `exit ${v.check.code}`;
    parts.push(v.check.ok ? 'check ok' : `check failed x${v.check.failures} (${why})`);
  }
  if (v.reason) parts.push(`last down: ${v.reason}`);
  return parts.join('; ');
}
