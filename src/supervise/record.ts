// What a supervisor tells the world about its service: supervise/status,
// supervise/death_tally and the events on event/. Status writes wait for the
// end of a batch of control bytes, or for the next event, so that a reader
// woken by an event finds the status that goes with it and a flood of `pc`
// costs one write. A failed write is warned about and leaves the previous
// file whole; the supervisor carries on, and writes the status again later
// (EMFILE, ENOSPC and EIO pass), so a stale pid is never left on disk for
// good. The retry timer exists only while a write is failing.
import { join } from 'node:path';
import { appendDeathBytes, deathTallyPath, type DeathRecord } from '../wire/deathtally';
import { notifyFifodir } from '../wire/fifodir';
import { encodeStatus, statusPath, type StatusRecord } from '../wire/status';
import { ReplacedFile } from './replacedfile';
import type { Clock, TimerHandle } from './clock';

/** Bounds of the backoff between attempts to write a status that failed. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 10_000;

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

export class ServiceRecord {
  /** The status as it is written; the supervisor changes it, then calls save(). */
  status!: StatusRecord;
  private readonly statusFile: ReplacedFile;
  private readonly deathTallyFile: ReplacedFile;
  private readonly eventDir: string;
  private batching = false;
  private dirty = false;
  private retry: TimerHandle | undefined;
  /** The wait before the next attempt; 0 while status writes succeed. */
  private retryMs = 0;

  constructor(
    private readonly root: string,
    private readonly warn: (message: string) => void,
    private readonly clock: Clock,
    /** Told each event once it is sent. */
    private readonly announced: (events: string) => void = () => {},
  ) {
    this.statusFile = new ReplacedFile(statusPath(root));
    this.deathTallyFile = new ReplacedFile(deathTallyPath(root));
    this.eventDir = join(root, 'event');
  }

  /** Runs `fn` with status writes held back, then writes once if anything changed. */
  batch(fn: () => void): void {
    this.batching = true;
    try {
      fn();
    } finally {
      this.batching = false;
      this.flush();
    }
  }

  save(): void {
    if (this.batching) this.dirty = true;
    else this.write();
  }

  /** Sends `bytes` to every listener, after the status they announce is on disk. */
  event(bytes: string): void {
    this.flush();
    try {
      notifyFifodir(this.eventDir, bytes);
    } catch (err) {
      this.warn(`unable to notify ${this.eventDir}: ${errCode(err)}`);
    }
    this.announced(bytes);
  }

  /** Starts a fresh death tally, as s6-supervise does when it starts. */
  resetDeaths(): void {
    try {
      this.deathTallyFile.clear();
    } catch (err) {
      this.warn(`unable to write ${join(this.root, 'supervise', 'death_tally')}: ${errCode(err)}`);
    }
  }

  /** Appends one death, keeping at most `max` records; an unchanged tally (max 0) is not written again. */
  recordDeath(death: DeathRecord, max: number): void {
    try {
      this.deathTallyFile.update((current) => appendDeathBytes(current, death, max));
    } catch (err) {
      this.warn(`unable to write ${join(this.root, 'supervise', 'death_tally')}: ${errCode(err)}`);
    }
  }

  close(): void {
    this.retry?.cancel();
    this.retry = undefined;
    this.statusFile.close();
    this.deathTallyFile.close();
  }

  private flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.write();
  }

  private write(): void {
    try {
      this.statusFile.write(encodeStatus(this.status));
    } catch (err) {
      // One line per run of failures, not one per attempt.
      if (this.retryMs === 0) this.warn(`unable to write ${join(this.root, 'supervise', 'status')}: ${errCode(err)}`);
      this.retryLater();
      return;
    }
    this.retryMs = 0;
    this.retry?.cancel();
    this.retry = undefined;
  }

  private retryLater(): void {
    if (this.retry) return;
    this.retryMs = Math.min(Math.max(2 * this.retryMs, RETRY_FIRST_MS), RETRY_MAX_MS);
    this.retry = this.clock.after(this.retryMs, () => {
      this.retry = undefined;
      this.write();
    });
  }
}
