// A service directory's configuration files. Like s6-supervise, tether reads
// each file when it is used, not once at start-up, so an edit takes effect at
// the next start, kill or death without restarting the supervisor.
import { closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
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
}
