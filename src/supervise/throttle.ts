// The restart throttle. s6 2.11 always waits a second after a death (or a
// second after readiness); tether only guarantees at most one start a second:
// a service that started (or became ready) over a second ago restarts at once,
// as runit does, so a crash of a long-running service costs no downtime.

export const MIN_START_INTERVAL_MS = 1000;

export class RestartThrottle {
  private mark: number | undefined;

  /** `run` was spawned at monotonic time `mono`. */
  started(mono: number): void {
    this.mark = mono;
  }

  /** The instance notified readiness at `mono`: the next start waits a second from here. */
  ready(mono: number): void {
    this.mark = mono;
  }

  /** How long a restart must wait at monotonic time `mono`; 0 means start now. */
  delay(mono: number): number {
    if (this.mark === undefined) return 0;
    return Math.max(0, this.mark + MIN_START_INTERVAL_MS - mono);
  }
}
