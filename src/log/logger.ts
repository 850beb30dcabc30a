// The logger's loop, with s6-log's semantics: read stdin, cut it into lines
// (at most -l bytes each), run each line through the script's selections
// and hand it to the actions of every element that selects it. Output is
// batched: one write per logdir per read, never one per line.
//
// Memory is bounded: once a logdir (or stdout) holds LOGDIR_BUFFER_BOUND
// bytes it cannot write (disk full, a rotation or processor under way), the
// logger stops reading; the pipe fills and the producer blocks. Nothing read
// is ever dropped, and it exits only once everything is written, rotations
// and processors included.
import { closeSync, fstatSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import { writeFileAtomic } from '../wire/atomic';
import { formatTain, tainFromMs } from '../wire/tain';
import { Input } from './input';
import { FILE_MODE, Logdir } from './logdir';
import { OutBuffer } from './outbuf';
import { localStamp } from './timefmt';
import { STAMP_LOCAL, STAMP_TAI, type Action, type Script } from './script';
import { errnoText, errnoOf } from '../base/errno';

/**
 * Per logdir, and for stdout: reading stops while this much output waits.
 * One read (64 KiB of input) can add its own size plus the stamps and
 * prefixes of its lines on top of it.
 */
export const LOGDIR_BUFFER_BOUND = 1024 * 1024;

export interface LoggerOptions {
  script: Script;
  /** Longer lines are split after this many bytes; 0: never. */
  lineLimit: number;
  /** After SIGTERM or SIGHUP, wait this long for the end of a partial line; 0: forever. */
  lastLineMs: number;
  /** -b: stop reading as soon as some output cannot be written at once. */
  block: boolean;
  /** -p: ignore SIGTERM. */
  protect: boolean;
  /** 0: alerts and fatal errors only; 1: warnings too. */
  verbosity: number;
  /** Where "alert: " lines and warnings are attributed. */
  progName: string;
}

const NEWLINE = 10;

/** Standard output for the `1` action: non-blocking for pipes, as s6-log's is. */
class Stdout {
  readonly out = new OutBuffer();
  private socket: Socket | null = null;
  enabled = true;

  constructor(private readonly onChange: () => void, private readonly onError: (err: Error) => void) {
    const st = fstatSync(1);
    if (st.isFIFO() || st.isSocket() || isatty(1)) {
      this.socket = new Socket({ fd: 1, readable: false, writable: true });
      this.socket.on('drain', () => this.onChange());
      this.socket.on('error', (err) => this.fail(err));
    }
  }

  get pending(): number {
    return this.out.length + (this.socket?.writableLength ?? 0);
  }

  flush(): void {
    if (!this.enabled || this.out.length === 0) return;
    if (this.socket) {
      this.socket.write(Buffer.from(this.out.view()));
      this.out.consume(this.out.length);
      return;
    }
    try {
      while (this.out.length > 0) this.out.consume(writeSync(1, this.out.view()));
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private fail(err: Error): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.out.consume(this.out.length);
    this.socket?.destroy();
    this.onError(err);
    this.onChange();
  }
}

export class Logger {
  private readonly logdirs: Logdir[];
  private readonly input: Input;
  private stdout: Stdout | null = null;
  private readonly partial = new OutBuffer();
  private exiting = false;
  private lastLine = false;
  private finished = false;
  private resolveExit!: (code: number) => void;
  /** Resolves with the exit code once everything is written and finalised. */
  readonly done = new Promise<number>((res) => {
    this.resolveExit = res;
  });
  private stampMs = -1;
  private taiStamp = Buffer.alloc(0);
  private localStampBuf = Buffer.alloc(0);

  constructor(private readonly opts: LoggerOptions) {
    const hooks = { warn: (m: string) => this.warn(m), changed: () => this.changed() };
    this.logdirs = opts.script.logdirs.map((s) => new Logdir(s, hooks));
    this.input = new Input(0, { data: (b, n) => this.data(b, n), end: (err) => this.eof(err) });
  }

  /** Sets up every logdir (mkdir, lock, recovery, open current); throws LogdirError. */
  init(): void {
    for (const ld of this.logdirs) ld.init();
    if (this.opts.script.elements.some((e) => e.actions.some((a) => a.kind === 'stdout'))) {
      this.stdout = new Stdout(() => this.changed(), (err) => this.warn(`unable to write to stdout, closing the stream - error was: ${errnoText(err)}`));
    }
  }

  /** Starts reading stdin. */
  start(): void {
    this.input.start();
  }

  /** SIGTERM (unless -p) and SIGHUP: finish the line under way, write everything, exit. */
  terminate(): void {
    if (this.exiting || this.lastLine) return;
    if (this.partial.length === 0) return this.beginExit();
    // A file has no next reader to leave the rest to: its partial line is ended here.
    if (!this.input.isStream) return this.endWithPartial();
    this.lastLine = true;
    this.input.pause();
    const deadline = this.opts.lastLineMs === 0 ? Infinity : Date.now() + this.opts.lastLineMs;
    this.readLastLine(deadline);
  }

  /** SIGALRM: rotate every logdir now. */
  rotateAll(): void {
    for (const ld of this.logdirs) ld.rotate();
  }

  private warn(message: string): void {
    if (this.opts.verbosity > 0) this.stderr(`${this.opts.progName}: warning: ${message}\n`);
  }

  private stderr(text: string | Buffer): void {
    try {
      if (typeof text === 'string') writeSync(2, text);
      else writeSync(2, text);
    } catch {
      // stderr is gone or full: s6-log too writes alerts "if it blocks, too bad"
    }
  }

  /** Reads what is left of the partial line one byte at a time, waiting in short slices. */
  private readLastLine(deadline: number): void {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return this.endWithPartial();
      const b = this.input.readByte(Math.min(left, 50));
      if (b === 'eof') return this.endWithPartial();
      if (b === 'again') {
        setImmediate(() => this.readLastLine(deadline));
        return;
      }
      if (b === NEWLINE) return this.endWithPartial();
      this.partial.appendByte(b);
      if (this.opts.lineLimit && this.partial.length >= this.opts.lineLimit) {
        this.warn('input line too long, stopping before the end');
        return this.endWithPartial();
      }
    }
  }

  private endWithPartial(): void {
    this.emitPartial();
    this.afterInput();
    this.beginExit();
  }

  private emitPartial(): void {
    if (this.partial.length === 0) return;
    const line = this.partial.view();
    this.line(line, 0, line.length);
    this.partial.consume(line.length);
  }

  /** EOF: a last line without its newline is a line all the same. */
  private eof(err?: Error): void {
    if (err && errnoOf(err) !== 'EPIPE') this.warn(`unable to read from stdin: ${errnoText(err)}`);
    if (this.lastLine) return;
    this.emitPartial();
    this.afterInput();
    this.beginExit();
  }

  /** One read: lines out of it, the rest kept as the partial line. */
  private data(buf: Buffer, n: number): void {
    const limit = this.opts.lineLimit;
    let pos = 0;
    while (pos < n) {
      let nl = buf.indexOf(NEWLINE, pos);
      if (nl >= n) nl = -1;
      const have = this.partial.length;
      const end = nl >= 0 ? nl : n;
      if (limit && have + (end - pos) > limit) {
        // Split after exactly `limit` bytes; the rest is a line of its own.
        const take = limit - have;
        if (have === 0) {
          this.line(buf, pos, pos + take);
        } else {
          this.partial.append(buf, pos, pos + take);
          this.emitPartial();
        }
        pos += take;
        continue;
      }
      if (nl < 0) {
        this.partial.append(buf, pos, n);
        break;
      }
      if (have === 0) {
        this.line(buf, pos, nl);
      } else {
        this.partial.append(buf, pos, nl);
        this.emitPartial();
      }
      pos = nl + 1;
    }
    this.afterInput();
  }

  /** The script on one line: selections carry over from element to element. */
  private line(buf: Buffer, start: number, end: number): void {
    const script = this.opts.script;
    if (script.stamps) this.readClock();
    let selected = true;
    let acted = false;
    for (const el of script.elements) {
      for (const s of el.selections) {
        if (s.kind === 'fallthrough') selected = !acted;
        else if (s.kind === 'select') {
          if (!selected && s.re.test(buf, start, end)) selected = true;
        } else if (selected && s.re.test(buf, start, end)) selected = false;
      }
      if (!selected) continue;
      acted = true;
      for (const a of el.actions) this.act(a, buf, start, end);
    }
  }

  /** The clock is read once per line; lines within one millisecond share the formatted stamps. */
  private readClock(): void {
    const ms = Date.now();
    if (ms === this.stampMs) return;
    this.stampMs = ms;
    const t = tainFromMs(ms);
    this.taiStamp = Buffer.from(`${formatTain(t)} `, 'latin1');
    this.localStampBuf = Buffer.from(`${localStamp(t)}  `, 'latin1');
  }

  private decorate(out: OutBuffer, a: Action): void {
    if (a.stamps & STAMP_TAI) out.append(this.taiStamp);
    if (a.stamps & STAMP_LOCAL) out.append(this.localStampBuf);
    if (a.prefix) out.append(a.prefix);
  }

  private act(a: Action, buf: Buffer, start: number, end: number): void {
    switch (a.kind) {
      case 'logdir': {
        const out = this.logdirs[a.index].out;
        this.decorate(out, a);
        out.append(buf, start, end);
        out.appendByte(NEWLINE);
        return;
      }
      case 'stdout': {
        if (!this.stdout?.enabled) return;
        this.decorate(this.stdout.out, a);
        this.stdout.out.append(buf, start, end);
        this.stdout.out.appendByte(NEWLINE);
        return;
      }
      case 'alert': {
        const out = new OutBuffer();
        out.append(Buffer.from(`${this.opts.progName}: alert: `));
        this.decorate(out, a);
        const len = end - start;
        if (a.size && a.size + 3 < len) {
          out.append(buf, start, start + a.size);
          out.append(Buffer.from('...\n'));
        } else {
          out.append(buf, start, end);
          out.appendByte(NEWLINE);
        }
        this.stderr(Buffer.from(out.view()));
        return;
      }
      case 'status':
        return this.status(a.file, a.size, a, buf, start, end);
    }
  }

  /** `=file`: the first `^` bytes of the line, padded with newlines to exactly `^` bytes. */
  private status(file: string, size: number, a: Action, buf: Buffer, start: number, end: number): void {
    const out = new OutBuffer();
    this.decorate(out, a);
    out.append(buf, start, end);
    out.appendByte(NEWLINE);
    let data = Buffer.from(out.view());
    if (size) {
      if (data.length > size) data = data.subarray(0, size);
      else data = Buffer.concat([data.subarray(0, data.length - 1), Buffer.alloc(size - data.length + 1, NEWLINE)]);
    }
    try {
      writeFileAtomic(file, data, FILE_MODE);
    } catch (err) {
      this.warn(`unable to write status file ${file}: ${errnoText(err)}`);
    }
  }

  /** After lines were handed out: write them, and stop reading if output piles up. */
  private afterInput(): void {
    for (const ld of this.logdirs) ld.flush();
    this.stdout?.flush();
    if (this.overBound()) this.input.pause();
  }

  private overBound(): boolean {
    // -b: nothing is read while a logdir cannot write, a rotation under way
    // included (its processor may run for long), so what waits stays in the pipe.
    if (this.opts.block && this.logdirs.some((ld) => !ld.writable)) return true;
    const bound = this.opts.block ? 1 : LOGDIR_BUFFER_BOUND;
    for (const ld of this.logdirs) if (ld.out.length >= bound) return true;
    return (this.stdout?.pending ?? 0) >= bound;
  }

  /** A logdir or stdout made progress: resume reading, or finish. */
  private changed(): void {
    if (this.exiting) {
      this.tryFinish();
      return;
    }
    if (!this.lastLine && this.input.isPaused && !this.overBound()) this.input.resume();
  }

  private beginExit(): void {
    if (this.exiting) return;
    this.exiting = true;
    this.input.stop();
    this.tryFinish();
  }

  private tryFinish(): void {
    if (this.finished) return;
    for (const ld of this.logdirs) if (!ld.idle) return;
    if ((this.stdout?.pending ?? 0) > 0) return;
    this.finished = true;
    this.finalizeAll();
  }

  /** fsync and mark every `current` finished, retrying failures every 2 s at most. */
  private finalizeAll(): void {
    const failed = this.logdirs.filter((ld) => !ld.finalize());
    if (failed.length === 0) {
      this.resolveExit(0);
      return;
    }
    const wait = Math.min(2000, ...failed.map((ld) => ld.settings.retryMs));
    setTimeout(() => this.finalizeAll(), wait);
  }
}

/** -d: one newline on `fd`, then close it. */
export function notifyReady(fd: number): void {
  try {
    writeSync(fd, '\n');
  } finally {
    closeSync(fd);
  }
}
