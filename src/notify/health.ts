// The `check` program: polled for readiness as s6-notifyoncheck does, then,
// with `health-retries`, kept polling while the service is up, as Docker's
// HEALTHCHECK does. One check runs at a time; one that outlives its timeout
// is killed (with its process group) and counts as a failure. Processes and
// time are injected, so the logic is tested on a fake clock.
import { wstatToCode } from '../wire/signals';
import type { Timers } from './watchdog';

export interface CheckProcess {
  readonly pid: number;
  /** Kills the check and whatever it started (it runs in its own session). */
  killGroup(sig: number): void;
  onExit(fn: (wstat: number) => void): void;
}

export interface CheckResult {
  ok: boolean;
  /** Exit code, or 128+signal; undefined if the check could not be started. */
  code?: number;
  timedOut: boolean;
  /** Failures in a row, this one included (0 after a success). */
  failures: number;
}

export interface HealthOptions {
  timers: Timers;
  /** Starts ./check; undefined (after reporting why) if it could not start. */
  spawn: () => CheckProcess | undefined;
  intervalMs: number;
  timeoutMs: number;
  /** 0: stop checking once ready (s6-notifyoncheck); n: restart after n failures in a row. */
  retries: number;
  onResult: (r: CheckResult) => void;
  onReady: () => void;
  onUnhealthy: (failures: number) => void;
}

const SIGKILL = 9;

export class HealthCheck {
  private ready = false;
  private failures = 0;
  private stopped = false;
  private timer: { cancel(): void } | undefined;
  private current: CheckProcess | undefined;

  constructor(private readonly o: HealthOptions) {}

  /** run has just started: the first check runs after one interval, as s6-notifyoncheck's. */
  start(): void {
    this.schedule();
  }

  /** The service is down (or we exit): no more checks, and a running one is killed. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.current?.killGroup(SIGKILL);
    this.current = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.timers.after(this.o.intervalMs, () => this.runOnce());
  }

  private runOnce(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const proc = this.o.spawn();
    if (!proc) return this.finished(undefined, false);
    this.current = proc;
    let timedOut = false;
    const killer = this.o.timeoutMs > 0
      ? this.o.timers.after(this.o.timeoutMs, () => {
        timedOut = true;
        proc.killGroup(SIGKILL);
      })
      : undefined;
    proc.onExit((wstat) => {
      killer?.cancel();
      if (this.current !== proc) return;
      this.current = undefined;
      this.finished(wstatToCode(wstat), timedOut);
    });
  }

  private finished(code: number | undefined, timedOut: boolean): void {
    if (this.stopped) return;
    const ok = code === 0 && !timedOut;
    this.failures = ok ? 0 : this.failures + 1;
    this.o.onResult({ ok, code, timedOut, failures: this.failures });
    if (ok && !this.ready) {
      this.ready = true;
      this.o.onReady();
      if (this.o.retries === 0) return;
    } else if (!ok && this.ready && this.o.retries > 0 && this.failures >= this.o.retries) {
      this.stopped = true;
      return this.o.onUnhealthy(this.failures);
    }
    this.schedule();
  }
}
