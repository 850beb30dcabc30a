// Restarts since the tree started. A supervisor's death tally is no count:
// it is capped and starts afresh with each supervisor. The scanner outlives
// its supervisors, so it counts: it listens on each service's event fifodir,
// as any s6 client may (so it works under s6-supervise too), and every `u`
// (a start) after the first is a restart, written to supervise/restarts for
// `tether status`. A new scanner starts from zero.
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, errnoText } from '../base/errno';
import { FifodirListener } from '../wire/fifodir';
import { restartsPath, writeRestarts } from '../wire/restarts';

export class RestartCounter {
  private starts = 0;

  private constructor(private readonly listener: FifodirListener) {}

  /**
   * Subscribes to `dir()`'s events, before its first supervisor starts; a
   * count left by a previous tree goes. `dir` is asked at each write: a
   * renamed directory keeps its service. Null (warned) if it cannot listen.
   */
  static open(dir: () => string, warn: (message: string) => void): RestartCounter | null {
    try {
      unlinkSync(restartsPath(dir()));
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT' && errnoOf(err) !== 'ENOTDIR') warn(`unable to remove ${restartsPath(dir())}: ${errnoText(err)}`);
    }
    let listener: FifodirListener;
    try {
      listener = FifodirListener.subscribe(join(dir(), 'event'));
    } catch (err) {
      warn(`unable to count the restarts of ${dir()}: ${errnoText(err)}`);
      return null;
    }
    const counter = new RestartCounter(listener);
    listener.onEvents((events) => counter.heard(events, dir, warn));
    return counter;
  }

  private heard(events: string, dir: () => string, warn: (message: string) => void): void {
    const ups = events.split('').filter((e) => e === 'u').length;
    if (ups === 0) return;
    this.starts += ups;
    try {
      writeRestarts(dir(), this.starts - 1);
    } catch (err) {
      warn(`unable to write ${restartsPath(dir())}: ${errnoText(err)}`);
    }
  }

  close(): void {
    this.listener.close();
  }
}
