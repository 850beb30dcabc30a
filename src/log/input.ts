// The logger's stdin. A pipe or socket is read through libuv (epoll, no
// threadpool) into one reused buffer; a regular file or /dev/null through
// fs.read. Pausing stops the reads themselves, so what the logger has not
// read stays in the pipe: that is the back-pressure that blocks a producer,
// and what a restarted logger finds.
import { fstatSync, read, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import { pollReadable } from '../os/native';
import { errnoOf } from '../base/errno';

/** One read: 64 KiB, a pipe's default capacity. */
export const READ_SIZE = 64 * 1024;

export interface InputHandlers {
  data(buf: Buffer, length: number): void;
  end(error?: Error): void;
}

export class Input {
  private readonly buf = Buffer.allocUnsafe(READ_SIZE);
  private socket: Socket | null = null;
  private paused = false;
  private reading = false;
  private stopped = false;
  private readonly oneByte = Buffer.alloc(1);

  constructor(private readonly fd: number, private readonly on: InputHandlers) {}

  start(): void {
    const st = fstatSync(this.fd);
    if (st.isFIFO() || st.isSocket() || isatty(this.fd)) {
      // `onread` (reads into our buffer, false pauses) is in Node since 12 but not in @types/node's constructor options.
      const opts = { fd: this.fd, readable: true, writable: false, onread: { buffer: this.buf, callback: (n: number) => this.delivered(n) } };
      this.socket = new Socket(opts as ConstructorParameters<typeof Socket>[0]);
      this.socket.on('end', () => this.ended());
      this.socket.on('error', (err) => this.ended(err));
      this.socket.resume();
    } else {
      this.fileRead();
    }
  }

  /** A pipe, socket or terminal (not a regular file). */
  get isStream(): boolean {
    return this.socket !== null;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    if (!this.paused || this.stopped) return;
    this.paused = false;
    if (this.socket) this.socket.resume();
    else this.fileRead();
  }

  /** No more reads, ever (the logger is exiting). */
  stop(): void {
    this.stopped = true;
    this.pause();
  }

  private delivered(n: number): boolean {
    if (this.stopped) return false;
    this.on.data(this.buf, n);
    return !this.paused;
  }

  private ended(err?: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.on.end(err);
  }

  private fileRead(): void {
    if (this.reading || this.paused || this.stopped) return;
    this.reading = true;
    read(this.fd, this.buf, 0, READ_SIZE, null, (err, n) => {
      this.reading = false;
      if (this.stopped) return;
      if (err) return this.ended(err);
      if (n === 0) return this.ended();
      this.on.data(this.buf, n);
      this.fileRead();
    });
  }

  /**
   * For the last line after SIGTERM: one byte, without waiting longer than
   * `waitMs` for it. Reading byte by byte stops exactly at the end of the
   * line, leaving what follows in the pipe for the next logger.
   */
  readByte(waitMs: number): number | 'again' | 'eof' {
    for (;;) {
      try {
        const n = readSync(this.fd, this.oneByte, 0, 1, null);
        return n === 0 ? 'eof' : this.oneByte[0];
      } catch (err) {
        const code = errnoOf(err);
        if (code !== 'EAGAIN') return 'eof';
        if (!pollReadable(this.fd, waitMs)) return 'again';
      }
    }
  }
}
