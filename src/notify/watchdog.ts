// The service watchdog (systemd's WatchdogSec=): armed when the service is
// ready, every WATCHDOG=1 restarts the period, and a period with no ping, or
// WATCHDOG=trigger, fires it once. Time comes from an injectable clock.

/** One-shot timers; the supervisor's Clock is one, a test's fake clock another. */
export interface Timers {
  after(ms: number, fn: () => void): { cancel(): void };
}

export class Watchdog {
  private timer: { cancel(): void } | undefined;
  private periodMs = 0;
  private armed = false;

  constructor(private readonly clock: Timers, private readonly onExpire: (why: 'timeout' | 'trigger') => void) {}

  /** The period (0: none); a running period restarts with the new length, as WATCHDOG_USEC= does. */
  setPeriod(ms: number): void {
    this.periodMs = ms;
    if (this.armed) this.restart();
  }

  get period(): number {
    return this.periodMs;
  }

  /** The service is ready: from now on a missing ping fires. */
  arm(): void {
    this.armed = true;
    this.restart();
  }

  ping(): void {
    if (this.armed) this.restart();
  }

  trigger(): void {
    this.fire('trigger');
  }

  disarm(): void {
    this.armed = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  get isArmed(): boolean {
    return this.armed;
  }

  private restart(): void {
    this.timer?.cancel();
    this.timer = this.periodMs > 0 ? this.clock.after(this.periodMs, () => this.fire('timeout')) : undefined;
  }

  private fire(why: 'timeout' | 'trigger'): void {
    this.disarm();
    this.onExpire(why);
  }
}
