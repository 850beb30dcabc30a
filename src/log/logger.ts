// The logger's loop: read a byte stream, cut it into lines, stamp each line
// with its TAI64N arrival time and write it to a LogDir. Nothing read is ever
// dropped: a write failure pauses the input (the producer then blocks on its
// pipe) and the write is retried.
import type { Readable } from 'node:stream';
import { formatTain, tainNow } from '../wire/tain';
import type { LogDir } from './logdir';
import { errnoText } from '../base/errno';

/** Longer lines are cut here; the rest continues as a new line. */
export const MAX_LINE = 8192;
const RETRY_MS = 1000;

export class Logger {
  private partial: Buffer = Buffer.alloc(0);
  private readonly queue: Buffer[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private ended = false;
  /** SIGTERM: write what was read, then finish. */
  private stopping = false;
  private done = false;
  private resolveDone!: () => void;
  readonly finished = new Promise<void>((res) => {
    this.resolveDone = res;
  });

  constructor(private readonly input: Readable, private readonly logdir: LogDir, private readonly warn: (m: string) => void) {}

  start(): void {
    this.input.on('data', (chunk: Buffer) => this.take(chunk));
    this.input.on('end', () => this.onEnd());
    this.input.on('error', (err) => {
      this.warn(`reading stdin: ${err.message}`);
      this.onEnd();
    });
  }

  /** EOF: the last line may lack its newline; it is written with one. */
  private onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.partial.length > 0) this.emitLine(this.partial, formatTain(tainNow()));
    this.partial = Buffer.alloc(0);
    this.drain();
  }

  /**
   * SIGTERM: write everything read so far (an unfinished line as a line of
   * its own) and finish. What is still in the pipe stays there for the next
   * logger, so stopping is prompt and loses nothing.
   */
  stop(): void {
    if (this.stopping || this.ended) return;
    this.stopping = true;
    this.input.pause();
    if (this.partial.length > 0) this.emitLine(this.partial, formatTain(tainNow()));
    this.partial = Buffer.alloc(0);
    this.drain();
  }

  /** SIGALRM: start a new `current` now. */
  rotate(): void {
    try {
      this.logdir.rotate();
    } catch (err) {
      this.warn(`unable to rotate: ${(err as Error).message}`);
    }
  }

  private take(chunk: Buffer): void {
    if (this.stopping) return; // not reached: the input is paused first
    const stamp = formatTain(tainNow());
    let data = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    let nl: number;
    while ((nl = data.indexOf(10)) >= 0 || data.length >= MAX_LINE) {
      const end = nl >= 0 && nl < MAX_LINE ? nl : MAX_LINE;
      this.emitLine(data.subarray(0, end), stamp);
      data = data.subarray(end === nl ? end + 1 : end);
    }
    this.partial = Buffer.from(data);
    this.drain();
  }

  private emitLine(line: Buffer, stamp: string): void {
    this.queue.push(Buffer.concat([Buffer.from(`${stamp} `, 'latin1'), line, Buffer.from('\n')]));
  }

  private drain(): void {
    if (this.retryTimer) return;
    while (this.queue.length > 0) {
      try {
        this.logdir.writeLines(this.queue);
      } catch (err) {
        this.warn(`unable to write to ${this.logdir.dir}: ${errnoText(err)}; retrying in 1 s`);
        this.input.pause();
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.drain();
        }, RETRY_MS);
        return;
      }
    }
    if (!this.ended && !this.stopping && !this.done) this.input.resume();
    this.finishIfIdle();
  }

  /** At EOF, or after SIGTERM at a line boundary, once everything is written. */
  private finishIfIdle(): void {
    const atEnd = this.ended || this.stopping;
    if (!atEnd || this.done || this.queue.length > 0 || this.retryTimer) return;
    this.done = true;
    this.input.pause();
    this.logdir.close();
    this.resolveDone();
  }
}
