// Waiting for services to reach a state, as s6-svwait and s6-svlisten do:
// subscribe to each event fifodir, then read each status, then act, then
// consume events. An event that happened between subscribing and reading
// is both in the status and in the FIFO; replaying it changes nothing, so
// no transition is ever lost. Nothing polls: events arrive on FIFOs read
// through libuv, and the only timer is the caller's deadline.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FifodirListener } from '../wire/fifodir';
import { isUp } from '../wire/status';
import { EXIT_SYSTEM, EXIT_TIMEOUT, Failure } from '../base/exit';
import { describe } from '../base/errno';
import { readStatusRecord } from './status';
import { openWatches } from './registry';
import { isSupervised, notSupervised } from './supervised';
import type { WaitCondition } from './conditions';

export interface WaitOptions {
  /** Give up after this many ms (exit code 99); none means forever. */
  timeoutMs?: number;
  /** Any one directory is enough (`-o`); by default all must get there (`-a`). */
  any?: boolean;
}

interface Goal {
  wantup: boolean;
  wantready: boolean;
}

/** One directory being watched: its subscription and its last known state. */
class Watched {
  /** null until the status file could be read (a supervisor still starting). */
  up: boolean | null = null;
  ready = false;

  /**
   * @param upIsEnough the service cannot report readiness (no
   *   notification-fd): a wait for ready settles for up, as s6-svc does.
   */
  constructor(readonly dir: string, readonly listener: FifodirListener, private readonly upIsEnough = false) {}

  /** Loads the state from supervise/status; returns false if it is not there yet. */
  load(): boolean {
    try {
      const rec = readStatusRecord(this.dir);
      this.up = isUp(rec);
      this.ready = rec.ready;
      return true;
    } catch (err) {
      if (!existsSync(join(this.dir, 'supervise', 'status'))) {
        if (isSupervised(this.dir)) return false;
        throw new Failure(notSupervised(this.dir), EXIT_SYSTEM, this.dir);
      }
      throw err;
    }
  }

  meets(goal: Goal): boolean {
    if (this.up === null) return false;
    const readyEnough = !goal.wantready || this.ready || (goal.wantup && this.upIsEnough);
    return this.up === goal.wantup && readyEnough;
  }
}

/**
 * Subscriptions to a set of service directories, taken in the order that
 * loses nothing. Create it before acting on the services; then `wait`.
 */
export class ServiceWatch {
  private readonly watched: Watched[] = [];
  private consumer: ((dir: Watched, events: string) => void) | null = null;
  private readonly queue: Array<{ w: Watched; events: string }> = [];
  private closed = false;

  /**
   * Subscribes to every directory, calls `onSubscribed` (tests use it to
   * make a transition happen in the window), then reads every status. A
   * missing status file is an error (111) unless a supervisor holds the lock:
   * then it is starting, and its `s` event will bring the status.
   * `upIsEnough` lists the directories whose readiness waits settle for up.
   */
  constructor(dirs: readonly string[], onSubscribed?: () => void, upIsEnough: readonly string[] = []) {
    openWatches.add(this);
    try {
      for (const dir of dirs) {
        let listener: FifodirListener;
        try {
          listener = FifodirListener.subscribe(join(dir, 'event'));
        } catch (err) {
          const why = existsSync(dir) ? `unable to subscribe to events for ${dir}: ${describe(err)}` : notSupervised(dir);
          throw new Failure(why, EXIT_SYSTEM, dir);
        }
        const w = new Watched(dir, listener, upIsEnough.includes(dir));
        this.watched.push(w);
        listener.onEvents((events) => this.deliver(w, events));
      }
      onSubscribed?.();
      for (const w of this.watched) w.load();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get dirs(): string[] {
    return this.watched.map((w) => w.dir);
  }

  private deliver(w: Watched, events: string): void {
    if (this.consumer) this.consumer(w, events);
    else this.queue.push({ w, events });
  }

  /**
   * Resolves with the number of failures seen (a supervisor exiting, or a
   * permanent failure while waiting for up) once the condition holds; rejects
   * with a Failure of code 99 at the deadline. Closes the subscriptions.
   */
  wait(condition: WaitCondition, opts: WaitOptions = {}): Promise<number> {
    const restart = condition === 'restarted' || condition === 'restarted-ready';
    // s6-svlisten forces -a for restarts: "any" of a two-phase wait is ill-defined.
    const any = !!opts.any && !restart;
    const final: Goal = { wantup: condition === 'up' || condition === 'ready' || restart, wantready: condition === 'ready' || condition === 'finished' || condition === 'restarted-ready' };
    const goals: Goal[] = restart ? [{ wantup: false, wantready: true }, final] : [final];
    let failures = 0;
    const met = () => {
      while (goals.length > 0) {
        const goal = goals[0];
        const ok = any ? this.watched.some((w) => w.meets(goal)) : this.watched.every((w) => w.meets(goal));
        if (!ok) return false;
        goals.shift();
      }
      return true;
    };
    return new Promise<number>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void) => {
        if (timer) clearTimeout(timer);
        this.consumer = null;
        this.close();
        fn();
      };
      const onEvents = (w: Watched, events: string) => {
        if (this.closed) return;
        try {
          for (const byte of events) {
            failures += this.apply(w, byte, goals[0]);
            if (met()) return finish(() => resolve(failures));
          }
        } catch (err) {
          finish(() => reject(err));
        }
      };
      if (met()) return finish(() => resolve(0));
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => finish(() => reject(new Failure('timed out', EXIT_TIMEOUT))), opts.timeoutMs);
      }
      this.consumer = onEvents;
      for (const { w, events } of this.queue.splice(0)) onEvents(w, events);
    });
  }

  /** Applies one event byte to one directory's state; returns 1 for a failure. */
  private apply(w: Watched, byte: string, goal: Goal): number {
    switch (byte) {
      case 'u': w.up = true; w.ready = false; return 0;
      case 'U': w.up = true; w.ready = true; return 0;
      case 'd': w.up = false; w.ready = false; return 0;
      case 'D': w.up = false; w.ready = true; return 0;
      case 's':
        // A supervisor (re)started: it wrote a fresh status before sending s.
        w.load();
        return 0;
      case 'x': {
        const failed = w.meets(goal) ? 0 : 1;
        w.up = goal.wantup;
        w.ready = goal.wantready;
        return failed;
      }
      case 'O':
        if (!goal.wantup) return 0;
        w.up = true;
        w.ready = goal.wantready;
        return 1;
      default:
        return 0;
    }
  }

  /** Unsubscribes (unlinks every listener FIFO). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    openWatches.delete(this);
    for (const w of this.watched) w.listener.close();
  }
}
