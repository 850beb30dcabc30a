// `svscan -d FD`: tell whoever started us, once, that every service found at
// start-up has a supervisor listening on its control FIFO. We learn of each
// supervisor's start from its event fifodir (it sends `s` once its control
// FIFO is open), so nothing polls.
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { FifodirListener } from '../wire/fifodir';

/** True if someone reads `dir/supervise/control`, i.e. a supervisor is listening. */
export function supervisorListening(dir: string): boolean {
  try {
    closeSync(openSync(join(dir, 'supervise', 'control'), constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch {
    return false;
  }
}

export class StartupReadiness {
  private readonly pending = new Map<string, FifodirListener>();
  private fired = false;
  private sealed = false;

  constructor(private readonly onReady: () => void, private readonly warn: (m: string) => void) {}

  /** Subscribe before the supervisor is spawned, so its `s` event cannot be missed. */
  track(key: string, dir: string): void {
    if (this.fired || this.pending.has(key)) return;
    let listener: FifodirListener;
    try {
      listener = FifodirListener.subscribe(join(dir, 'event'));
    } catch (err) {
      this.warn(`unable to subscribe to ${join(dir, 'event')}: ${(err as Error).message}; not waiting for it`);
      return;
    }
    this.pending.set(key, listener);
    listener.onEvents(() => this.check(key, dir));
    this.check(key, dir);
  }

  /** No more services will be tracked: fire as soon as the pending ones are listening. */
  seal(): void {
    this.sealed = true;
    this.fireIfDone();
  }

  close(): void {
    for (const l of this.pending.values()) l.close();
    this.pending.clear();
    this.fired = true;
  }

  private check(key: string, dir: string): void {
    const listener = this.pending.get(key);
    if (!listener || !supervisorListening(dir)) return;
    listener.close();
    this.pending.delete(key);
    this.fireIfDone();
  }

  private fireIfDone(): void {
    if (this.fired || !this.sealed || this.pending.size > 0) return;
    this.fired = true;
    this.onReady();
  }
}
