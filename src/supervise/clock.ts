// Time as the supervisor sees it: wall-clock stamps for the status file, a
// monotonic clock for the restart throttle, and one-shot timers. Injectable,
// so the throttle and the timeouts can be tested without waiting.
import { tainNow, type Tain } from '../wire/tain';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock now, for status stamps and the death tally. */
  wall(): Tain;
  /** Monotonic milliseconds, immune to clock changes: for intervals only. */
  monoMs(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  wall: tainNow,
  monoMs: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(timer) };
  },
};

/**
 * The supervisor's single deadline, as in s6: depending on the state it means
 * "restart", "send SIGKILL to run" or "send SIGKILL to finish". Setting it
 * replaces the previous one.
 */
export class Deadline {
  private handle: TimerHandle | undefined;
  private dueMs = 0;

  constructor(private readonly clock: Clock) {}

  set(ms: number, fn: () => void): void {
    this.clear();
    this.dueMs = this.clock.monoMs() + Math.max(0, ms);
    this.handle = this.clock.after(Math.max(0, ms), () => {
      this.handle = undefined;
      fn();
    });
  }

  clear(): void {
    this.handle?.cancel();
    this.handle = undefined;
  }

  get armed(): boolean {
    return this.handle !== undefined;
  }

  /** ms until it fires; 0 when not armed. */
  get remaining(): number {
    return this.handle === undefined ? 0 : Math.max(0, this.dueMs - this.clock.monoMs());
  }
}
