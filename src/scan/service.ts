// What the scanner knows about one service directory it found: its identity,
// the supervisor process it runs for it, and the log pipe it may share with
// its logger.
import type { SupervisorHandle } from './handle';
import { closeSync } from 'node:fs';
import { pipe } from '../os/native';
import type { ProcessStop } from '../supervise/stop';
import type { TimerHandle } from '../supervise/clock';
import type { RestartCounter } from './restarts';

/**
 * The pipe between a service and its logger. The scanner holds both ends for
 * as long as either side is known, so restarting the producer, the logger or
 * either supervisor never loses what is in flight.
 */
export class LogPipe {
  private ends: [read: number, write: number] | null;

  constructor() {
    this.ends = pipe();
  }

  get read(): number | null {
    return this.ends?.[0] ?? null;
  }

  get write(): number | null {
    return this.ends?.[1] ?? null;
  }

  close(): void {
    if (!this.ends) return;
    for (const fd of this.ends) closeSync(fd);
    this.ends = null;
  }
}

/** An orphaned service whose supervisor died: brought down before a new supervisor starts. */
export interface OrphanStop {
  pid: number;
  stop: ProcessStop;
}

/** s6's name for the service that logs the scanner's own output. */
export const CATCH_ALL_LOGGER = 's6-svscan-log';

export class Service {
  /** The relative name in the scan directory: `foo`, or `foo/log` for a logger. */
  name: string;
  /** Still found by the last scan. */
  active = true;
  supervisor: SupervisorHandle | null = null;
  /** When the last supervisor was spawned (ms, monotonic); null if never. */
  lastStart: number | null = null;
  restartTimer: TimerHandle | null = null;
  /** At shutdown: when this service's time to stop is up. */
  graceTimer: TimerHandle | null = null;
  /** Counts its restarts from its first supervisor on; null until then, or if it cannot listen. */
  restarts: RestartCounter | null = null;
  counting = false;
  orphanStop: OrphanStop | null = null;
  /** Waiting for a supervisor we did not start to release the service's lock (warned once). */
  lockWaiting = false;
  /** The logger of a producer, or the producer of a logger. */
  peer: Service | null = null;
  logPipe: LogPipe | null = null;

  constructor(readonly key: string, name: string, readonly isLogger: boolean) {
    this.name = name;
  }

  /** A producer whose new log directory waits for its old logger to go (warned once). */
  loggerWaiting = false;

  /**
   * Reads its input to the end when the tree stops (SIGHUP, not SIGTERM):
   * loggers, and s6's catch-all logger `s6-svscan-log`, which holds the
   * scanner's own output.
   */
  get drainsAtShutdown(): boolean {
    return this.isLogger || this.name === CATCH_ALL_LOGGER;
  }

  get running(): boolean {
    return this.supervisor !== null;
  }

  /** Busy: a supervisor runs, or an orphaned service is being brought down. */
  get busy(): boolean {
    return this.supervisor !== null || this.orphanStop !== null;
  }

  clearRestart(): void {
    this.restartTimer?.cancel();
    this.restartTimer = null;
  }

  clearGrace(): void {
    this.graceTimer?.cancel();
    this.graceTimer = null;
  }
}
