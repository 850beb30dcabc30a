// What a supervisor tells the world about its service: supervise/status,
// supervise/death_tally and the events on event/. Status writes wait for the
// end of a batch of control bytes, or for the next event, so that a reader
// woken by an event finds the status that goes with it and a flood of `pc`
// costs one write. A failed write is warned about and leaves the previous
// file whole; the supervisor carries on.
import { join } from 'node:path';
import { appendDeath, deathTallyPath, encodeDeathTally, readDeathTally, type DeathRecord } from '../wire/deathtally';
import { notifyFifodir } from '../wire/fifodir';
import { encodeStatus, statusPath, type StatusRecord } from '../wire/status';
import { ReplacedFile } from './replacedfile';

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

  constructor(
    private readonly root: string,
    private readonly warn: (message: string) => void,
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
  }

  /** Starts a fresh death tally, as s6-supervise does when it starts. */
  resetDeaths(): void {
    try {
      this.deathTallyFile.clear();
    } catch (err) {
      this.warn(`unable to write ${join(this.root, 'supervise', 'death_tally')}: ${errCode(err)}`);
    }
  }

  /** Appends one death, keeping at most `max` records. */
  recordDeath(death: DeathRecord, max: number): void {
    this.writeDeaths(appendDeath(this.readDeaths(), death, max));
  }

  close(): void {
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
      this.warn(`unable to write ${join(this.root, 'supervise', 'status')}: ${errCode(err)}`);
    }
  }

  private readDeaths(): DeathRecord[] {
    try {
      return readDeathTally(this.root);
    } catch (err) {
      this.warn(`unable to read ${join(this.root, 'supervise', 'death_tally')}: ${errCode(err)}`);
      return [];
    }
  }

  private writeDeaths(records: readonly DeathRecord[]): void {
    try {
      this.deathTallyFile.write(encodeDeathTally(records));
    } catch (err) {
      this.warn(`unable to write ${join(this.root, 'supervise', 'death_tally')}: ${errCode(err)}`);
    }
  }
}
