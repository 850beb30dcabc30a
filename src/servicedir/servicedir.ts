// A service directory's configuration files. Like s6-supervise, tether reads
// each file when it is used, not once at start-up, so an edit takes effect at
// the next start, kill or death without restarting the supervisor.
import { closeSync, constants, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseSignal, signalName } from '../wire/signals';
import { DEFAULT_DEATH_TALLY, MAX_DEATH_TALLY } from '../wire/deathtally';
import { errnoOf } from '../base/errno';

export type Warn = (message: string) => void;

/** What a bad file's content looks like in a one-line warning. */
function show(raw: string): string {
  return JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
}

/**
 * A timeout as a Node timer can hold it: up to 2^31-1 ms (24.8 days). A
 * larger one would fire after 1 ms; s6 allows 2^32-1 ms (49.7 days), and
 * either is "never" to a service.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;
const timer = (ms: number): number => Math.min(ms, MAX_TIMER_MS);

export type NotifyAccessRule = 'main' | 'exec' | 'all';

/** A user given by name (looked up in /etc/passwd) or number, or undefined and a warning. */
function uidOf(user: string): number | undefined {
  if (/^[0-9]{1,10}$/.test(user)) return Number(user);
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user && /^[0-9]+$/.test(f[2] ?? '')) return Number(f[2]);
    }
  } catch {
    // no passwd file: only numbers work
  }
  return undefined;
}

export interface NotifySocketConfig {
  /** The uid the service sends from, when it is not the supervisor's (it then gets an abstract socket). */
  uid?: number;
}

export class ServiceDir {
  constructor(readonly dir: string, private readonly warn: Warn = () => {}) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  has(name: string): boolean {
    return existsSync(this.path(name));
  }

  /**
   * At most `maxBytes` of the file, or undefined if it does not exist. Most
   * optional files are absent on most restarts: a stat that returns nothing
   * is much cheaper than the exception (and its stack trace) a failed open
   * makes. The open never blocks (a FIFO put there) and the read is bounded
   * (a link to /dev/zero); any failure is one warning, and the default.
   */
  private read(name: string, maxBytes: number): Buffer | undefined {
    const p = this.path(name);
    let fd = -1;
    try {
      if (statSync(p, { throwIfNoEntry: false }) === undefined) return undefined;
      fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK);
      const buf = Buffer.alloc(maxBytes);
      const n = readSync(fd, buf, 0, maxBytes, null);
      return buf.subarray(0, n);
    } catch (err) {
      const code = errnoOf(err);
      if (code !== 'ENOENT') this.warn(`unable to read ${name}: ${code ?? err}`);
      return undefined;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  /** The file's first line, or undefined if the file does not exist. */
  private firstLine(name: string, maxBytes: number): string | undefined {
    const raw = this.read(name, maxBytes);
    if (raw === undefined) return undefined;
    const text = raw.toString('latin1');
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl);
  }

  /**
   * A decimal number, parsed as strictly as s6 does: no sign, no space, no CR.
   * Anything else is reported and the default applies.
   */
  uint(name: string, fallback: number): number;
  uint(name: string, fallback: undefined): number | undefined;
  uint(name: string, fallback: number | undefined): number | undefined {
    const line = this.firstLine(name, 4096);
    if (line === undefined) return fallback;
    if (!/^[0-9]{1,10}$/.test(line) || Number(line) > 0xffffffff) {
      this.warn(`invalid ${name}: ${show(line)}, ${fallback === undefined ? 'ignored' : `using ${fallback}`}`);
      return fallback;
    }
    return Number(line);
  }

  signal(name: string, fallback: number): number {
    const line = this.firstLine(name, 4096);
    if (line === undefined) return fallback;
    const sig = parseSignal(line);
    if (sig === null || sig === 0) {
      this.warn(`invalid ${name}: ${show(line)}, using ${signalName(fallback)}`);
      return fallback;
    }
    return sig;
  }

  /** A positive fd number for `notification-fd` or `lock-fd`; 0 and garbage are refused. */
  fd(name: string): number | undefined {
    const n = this.uint(name, undefined);
    if (n === 0) {
      this.warn(`invalid ${name}: "0", ignored`);
      return undefined;
    }
    return n;
  }

  notificationFd(): number | undefined {
    return this.fd('notification-fd');
  }

  lockFd(): number | undefined {
    return this.fd('lock-fd');
  }

  downSignal(): number {
    return this.signal('down-signal', 15);
  }

  reloadSignal(): number {
    return this.signal('reload-signal', 1);
  }

  /** ms after the down signal before SIGKILL; 0 means never. */
  timeoutKill(): number {
    return timer(this.uint('timeout-kill', 0));
  }

  /** ms finish may run; 0 means no limit. */
  timeoutFinish(): number {
    return timer(this.uint('timeout-finish', 5000));
  }

  maxDeathTally(): number {
    return Math.min(this.uint('max-death-tally', DEFAULT_DEATH_TALLY), MAX_DEATH_TALLY);
  }

  /** ms the pidfile machinery waits for the parent to exit and the pid file to appear. */
  timeoutReady(): number {
    return timer(this.uint('timeout-ready', 5000));
  }

  /** The absolute path named by the `pidfile` file, or undefined without one. */
  pidfile(): string | undefined {
    const raw = this.read('pidfile', 1024);
    if (raw === undefined) return undefined;
    const text = raw.toString('utf8');
    const nl = text.indexOf('\n');
    const line = nl < 0 ? text : text.slice(0, nl);
    if (line === '' || line.includes('\0') || Buffer.byteLength(line) >= 512) {
      this.warn(`invalid pidfile: ${show(line)}, ignored`);
      return undefined;
    }
    return isAbsolute(line) ? line : join(this.dir, line);
  }

  wantsDown(): boolean {
    return this.has('down');
  }

  // ---- tether extensions: sd_notify readiness, the watchdog, health checks ----

  /**
   * `notify-socket`: present means "give run a NOTIFY_SOCKET". Its first line
   * may name the user the service runs as (name or uid), for a service that
   * drops privileges before it notifies.
   */
  notifySocket(): NotifySocketConfig | undefined {
    const line = this.firstLine('notify-socket', 4096);
    if (line === undefined) return undefined;
    const user = line.trim();
    if (user === '') return {};
    const uid = uidOf(user);
    if (uid === undefined) this.warn(`invalid notify-socket: unknown user ${JSON.stringify(user.slice(0, 40))}, ignored`);
    return uid === undefined ? {} : { uid };
  }

  notifyAccess(): NotifyAccessRule {
    const line = this.firstLine('notify-access', 4096)?.trim();
    if (line === undefined || line === '') return 'main';
    if (line === 'main' || line === 'exec' || line === 'all') return line;
    this.warn(`invalid notify-access: ${JSON.stringify(line.slice(0, 40))}, using main`);
    return 'main';
  }

  /** `watchdog-usec`: the period in µs (0 or absent: no watchdog). */
  watchdogUsec(): number {
    const line = this.firstLine('watchdog-usec', 4096);
    if (line === undefined) return 0;
    if (!/^[0-9]{1,15}$/.test(line)) {
      this.warn(`invalid watchdog-usec: ${JSON.stringify(line.slice(0, 40))}, no watchdog`);
      return 0;
    }
    return Number(line);
  }

  /** Sent when the watchdog fires; SIGABRT as under systemd. */
  watchdogSignal(): number {
    return this.signal('watchdog-signal', 6);
  }

  /** ms between two runs of `check`. */
  checkInterval(): number {
    return Math.max(1, Math.min(this.uint('check-interval', 1000), 2 ** 31 - 1));
  }

  /** ms a `check` may run before it is killed and counted as failed; 0: no limit. */
  checkTimeout(): number {
    return Math.min(this.uint('check-timeout', 10_000), 2 ** 31 - 1);
  }

  /** Failures in a row after which an up service is restarted; 0: check only until ready. */
  healthRetries(): number {
    return this.uint('health-retries', 0);
  }
}
