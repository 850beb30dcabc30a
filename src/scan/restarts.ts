// Restarts since the tree started. A supervisor's death tally is no count:
// it is capped and starts afresh with each supervisor. The scanner outlives
// its supervisors, so it counts: every `u` (a start) after the first is a
// restart, written to supervise/restarts for `tether status`. A new scanner
// starts from zero. It hears the events of supervisors in other processes
// by listening on each service's event fifodir, as any s6 client may (so it
// works under s6-supervise too); a shared host's supervisors tell it
// in-process, which spares each service a FIFO, two fds and the open, write
// and close of that FIFO at every event.
//
// The file is written at once when it has not been for WRITE_EVERY_MS, else
// once that time has passed: a single restart shows at once, while a
// crash-looping service (one start a second, the throttle's pace) costs one
// file replacement per WRITE_EVERY_MS instead of one per start; with a
// hundred of them in a shared host, those writes were a fifth of its CPU
// (node --cpu-prof). The timer exists only while a count waits to be written.
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, errnoText } from '../base/errno';
import { FifodirListener } from '../wire/fifodir';
import { restartsPath, writeRestarts } from '../wire/restarts';
import { systemClock, type Clock, type TimerHandle } from '../supervise/clock';

/** The most often supervise/restarts is replaced, per service. */
export const WRITE_EVERY_MS = 5000;

export class RestartCounter {
  private starts = 0;
  /** When the count was last written (monotonic ms); -Infinity before the first. */
  private writtenAt = -Infinity;
  private pending: TimerHandle | undefined;
  private closed = false;

  private constructor(
    private readonly listener: FifodirListener | undefined,
    private readonly dir: () => string,
    private readonly warn: (message: string) => void,
    private readonly clock: Clock,
  ) {}

  /**
   * Starts counting `dir()`'s starts, before its first supervisor starts; a
   * count left by a previous tree goes. With `listen`, subscribes to its
   * events; without, the caller passes them to heard(). `dir` is asked at
   * each write: a renamed directory keeps its service. Null (warned) if it
   * cannot listen.
   */
  static open(
    dir: () => string, warn: (message: string) => void, clock: Clock = systemClock, opts: { listen: boolean } = { listen: true },
  ): RestartCounter | null {
    try {
      unlinkSync(restartsPath(dir()));
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT' && errnoOf(err) !== 'ENOTDIR') warn(`unable to remove ${restartsPath(dir())}: ${errnoText(err)}`);
    }
    if (!opts.listen) return new RestartCounter(undefined, dir, warn, clock);
    let listener: FifodirListener;
    try {
      listener = FifodirListener.subscribe(join(dir(), 'event'));
    } catch (err) {
      warn(`unable to count the restarts of ${dir()}: ${errnoText(err)}`);
      return null;
    }
    const counter = new RestartCounter(listener, dir, warn, clock);
    listener.onEvents((events) => counter.heard(events));
    return counter;
  }

  /** Starts heard so far (the first included), whether written yet or not. */
  get startsHeard(): number {
    return this.starts;
  }

  /** Events of the service, as sent on its event/ fifodir. */
  heard(events: string): void {
    if (this.closed) return;
    let ups = 0;
    for (let i = 0; i < events.length; i++) if (events.charCodeAt(i) === 0x75 /* u */) ups++;
    if (ups === 0) return;
    this.starts += ups;
    if (this.pending) return;
    const wait = this.writtenAt + WRITE_EVERY_MS - this.clock.monoMs();
    if (wait <= 0) return this.write();
    this.pending = this.clock.after(wait, () => {
      this.pending = undefined;
      this.write();
    });
  }

  private write(): void {
    this.writtenAt = this.clock.monoMs();
    try {
      writeRestarts(this.dir(), this.starts - 1);
    } catch (err) {
      this.warn(`unable to write ${restartsPath(this.dir())}: ${errnoText(err)}`);
    }
  }

  /** Stops listening; a count still waiting is written first. */
  close(): void {
    this.closed = true;
    if (this.pending) {
      this.pending.cancel();
      this.pending = undefined;
      this.write();
    }
    this.listener?.close();
  }
}
