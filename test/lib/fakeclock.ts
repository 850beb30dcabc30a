// A clock whose time moves only when the test says so: the supervisor's
// timeouts, the throttle, the watchdog and the health checks run on it.
import type { Clock, TimerHandle } from '../../src/supervise/clock';
import { tainFromMs } from '../../src/wire/tain';

export class FakeClock implements Clock {
  now = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];

  wall() {
    return tainFromMs(1_700_000_000_000 + this.now);
  }

  monoMs() {
    return this.now;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.now + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  }

  /** Moves time on, firing due timers in order (timers they set fire too if due). */
  advance(ms: number) {
    const end = this.now + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.now = Math.max(this.now, due.at);
      due.live = false;
      due.fn();
    }
    this.now = end;
  }

  /** Timers still waiting. */
  get pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
}
