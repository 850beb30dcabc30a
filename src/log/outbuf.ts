// A byte queue for output waiting to be written: lines are copied in, the
// front is written out with one system call. One Buffer per destination, not
// one per line, so a million lines make no garbage.

const INITIAL = 64 * 1024;

export class OutBuffer {
  private buf = Buffer.allocUnsafe(INITIAL);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  /** The bytes waiting, as a view (valid until the next append or consume). */
  view(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** The byte at `i` from the front. */
  at(i: number): number {
    return this.buf[this.start + i];
  }

  /** Offset from the front of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from: number): number {
    const i = this.buf.indexOf(byte, this.start + from);
    return i < 0 || i >= this.end ? -1 : i - this.start;
  }

  append(src: Uint8Array, from = 0, to = src.length): void {
    const n = to - from;
    this.reserve(n);
    this.buf.set(src.subarray(from, to), this.end);
    this.end += n;
  }

  appendByte(byte: number): void {
    this.reserve(1);
    this.buf[this.end++] = byte;
  }

  consume(n: number): void {
    this.start += n;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      // A huge line grew the buffer: give the memory back once it is written.
      if (this.buf.length > 16 * INITIAL) this.buf = Buffer.allocUnsafe(INITIAL);
    }
  }

  private reserve(n: number): void {
    if (this.end + n <= this.buf.length) return;
    const used = this.end - this.start;
    if (used + n <= this.buf.length >> 1) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      let cap = this.buf.length * 2;
      while (cap < used + n) cap *= 2;
      const next = Buffer.allocUnsafe(cap);
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
    }
    this.start = 0;
    this.end = used;
  }
}
