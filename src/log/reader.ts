// Reading logdirs back: a service's archives and `current`, oldest first;
// exactly the last N lines, whatever their length; following `current`
// across rotations by inode (the renamed file is drained to its end before
// the new one is opened, so no line is repeated or skipped); several
// services merged by timestamp. `tether logs` and `tether web` use this.
//
//   findLogSources(paths)                      DIR | SERVICEDIR | SCANDIR -> [{service, dir}]
//   readHistory(sources, {lines, since, until}) -> { records, cursors }
//   followLogs(cursors, onRecords, onError)    -> { close() }
//   records: { ts: Tain | null, service, line: Buffer, raw: Buffer }
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { unpackTain, type Tain } from '../wire/tain';
import { ARCHIVE_NAME } from './logdir';
import { compareTain } from './timefmt';
import { errnoOf } from '../base/errno';

export interface LogSource {
  /** The name lines are tagged with: the service's, or the logdir's. */
  service: string;
  dir: string;
}

export interface LogRecord {
  /** From the line's TAI64N stamp; null for a line without one. */
  ts: Tain | null;
  service: string;
  /** The line after its stamp and the space that follows it. */
  line: Buffer;
  /** The line as stored, without its newline. */
  raw: Buffer;
}

export interface HistoryOptions {
  /** Only the last `lines` lines (after the time filters). */
  lines?: number;
  since?: Tain;
  until?: Tain;
}

/** Where reading stopped in one logdir: what following goes on from. */
export interface LogCursor {
  source: LogSource;
  fd: number;
  ino: number;
  /** Bytes of the open `current` already handed out (always at a line end). */
  offset: number;
  /** The newest archive name already accounted for. */
  lastArchive: string;
}

const BLOCK = 64 * 1024;
const STAMP_LEN = 25;

/** True if `dir` looks like a logdir (s6-log leaves `lock` and `current`). */
export function isLogdir(dir: string): boolean {
  return existsSync(join(dir, 'current')) || existsSync(join(dir, 'lock'));
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => !d.name.startsWith('.') && (d.isDirectory() || d.isSymbolicLink()))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/** The logdirs under SERVICE/log (by convention `log/main`), named after the service. */
function serviceLogdirs(service: string, dir: string): LogSource[] {
  const logdirs = subdirs(join(dir, 'log')).filter((d) => isLogdir(join(dir, 'log', d)));
  return logdirs.map((d) => ({ service: logdirs.length === 1 ? service : `${service}/${d}`, dir: join(dir, 'log', d) }));
}

/**
 * Each path is a logdir, a service directory (its `log/*` logdirs) or a
 * scan directory (every service's). Throws if a path holds no logdir.
 */
export function findLogSources(paths: readonly string[]): LogSource[] {
  const out: LogSource[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    if (isLogdir(abs)) {
      const parent = dirname(abs);
      // SERVICE/log/main is named SERVICE.
      const service = basename(parent) === 'log' ? basename(dirname(parent)) : basename(abs);
      out.push({ service, dir: p });
      continue;
    }
    const own = serviceLogdirs(basename(abs), p);
    const found = own.length > 0 ? own : subdirs(p).flatMap((s) => serviceLogdirs(s, join(p, s)));
    if (found.length === 0) throw new Error(`no log directory in ${p}`);
    out.push(...found);
  }
  return out;
}

/** Archive names (`@TAI64N.s`, `.u`), oldest first. */
export function archiveNames(dir: string): string[] {
  return readdirSync(dir).filter((n) => ARCHIVE_NAME.test(n)).sort((a, b) => (a.slice(1, 25) < b.slice(1, 25) ? -1 : a.slice(1, 25) > b.slice(1, 25) ? 1 : 0));
}

/** A stored line as a record: its TAI64N stamp read, if it has one. */
export function parseLine(raw: Buffer, service: string): LogRecord {
  if (raw.length > STAMP_LEN && raw[0] === 0x40 && raw[STAMP_LEN] === 0x20 && /^@[0-9a-f]{24}$/.test(raw.toString('latin1', 0, STAMP_LEN))) {
    return { ts: unpackTain(Buffer.from(raw.toString('latin1', 1, STAMP_LEN), 'hex'), 0), service, line: raw.subarray(STAMP_LEN + 1), raw };
  }
  return { ts: null, service, line: raw, raw };
}

function readRange(fd: number, start: number, end: number): Buffer {
  const buf = Buffer.allocUnsafe(end - start);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The end of the last complete line at or before `size`. */
function lastLineEnd(fd: number, size: number): number {
  let pos = size;
  while (pos > 0) {
    const start = Math.max(0, pos - BLOCK);
    const i = readRange(fd, start, pos).lastIndexOf(10);
    if (i >= 0) return start + i + 1;
    pos = start;
  }
  return 0;
}

/** Complete lines of `buf` (an unterminated tail is left out), oldest first. */
function splitLines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) return out;
    out.push(buf.subarray(pos, nl));
    pos = nl + 1;
  }
}

/** The last `need` lines of `[0, end)`, which ends with a newline; oldest first. */
function tailLines(fd: number, end: number, need: number): Buffer[] {
  const lines: Buffer[] = [];
  if (end === 0 || need <= 0) return lines;
  let pos = end - 1; // the final newline is not a separator
  let carry = Buffer.alloc(0);
  while (pos > 0 && lines.length < need) {
    const start = Math.max(0, pos - BLOCK);
    const block = readRange(fd, start, pos);
    const buf = carry.length ? Buffer.concat([block, carry]) : block;
    let e = buf.length;
    while (lines.length < need) {
      const i = e > 0 ? buf.lastIndexOf(10, e - 1) : -1;
      if (i < 0) break;
      lines.push(Buffer.from(buf.subarray(i + 1, e)));
      e = i;
    }
    carry = Buffer.from(buf.subarray(0, e));
    pos = start;
  }
  if (pos === 0 && lines.length < need) lines.push(carry);
  return lines.reverse();
}

interface LogFile {
  fd: number;
  /** Where its complete lines end. */
  end: number;
  /** Stamp of the archive name: no line in it is newer. */
  name: string;
}

/** Opens `current` first, then lists archives, leaving out `current` itself if it was rotated meanwhile. */
function openLogdir(source: LogSource): { files: LogFile[]; cursor: LogCursor } {
  const fd = openSync(join(source.dir, 'current'), 'r');
  const st = fstatSync(fd);
  const files: LogFile[] = [];
  let lastArchive = '';
  for (const name of archiveNames(source.dir)) {
    lastArchive = name;
    let afd: number;
    try {
      afd = openSync(join(source.dir, name), 'r');
    } catch {
      continue; // trimmed meanwhile
    }
    const ast = fstatSync(afd);
    if (ast.ino === st.ino) {
      closeSync(afd);
      continue;
    }
    files.push({ fd: afd, end: ast.size, name });
  }
  const end = lastLineEnd(fd, st.size);
  files.push({ fd, end, name: '' });
  return { files, cursor: { source, fd, ino: st.ino, offset: end, lastArchive } };
}

function linesOf(file: LogFile): Buffer[] {
  const buf = readRange(file.fd, 0, file.end);
  const lines = splitLines(buf);
  if (buf.length > 0 && buf[buf.length - 1] !== 10) lines.push(buf.subarray(buf.lastIndexOf(10) + 1));
  return lines;
}

function inRange(r: LogRecord, opts: HistoryOptions): boolean {
  if (!r.ts) return true;
  if (opts.since && compareTain(r.ts, opts.since) < 0) return false;
  if (opts.until && compareTain(r.ts, opts.until) > 0) return false;
  return true;
}

/** One logdir's history, oldest first. */
function sourceHistory(source: LogSource, files: LogFile[], opts: HistoryOptions): LogRecord[] {
  const sinceName = opts.since ? `@${sinceLabel(opts.since)}` : '';
  if (opts.lines !== undefined && !opts.since && !opts.until) {
    // Exactly the last N lines, reading backwards only as far as needed.
    const got: Buffer[][] = [];
    let need = opts.lines;
    for (let i = files.length - 1; i >= 0 && need > 0; i--) {
      const f = files[i];
      // An archive is complete: a last line without its newline still counts.
      const terminated = f.end === 0 || readRange(f.fd, f.end - 1, f.end)[0] === 10;
      const lines = terminated ? tailLines(f.fd, f.end, need) : linesOf(f).slice(-need);
      got.unshift(lines);
      need -= lines.length;
    }
    return got.flat().map((raw) => parseLine(raw, source.service));
  }
  const out: LogRecord[] = [];
  for (const f of files) {
    // An archive is named at its rotation: it holds nothing newer than its name.
    if (f.name && sinceName && f.name.slice(0, 25) < sinceName) continue;
    for (const raw of linesOf(f)) {
      const r = parseLine(raw, source.service);
      if (inRange(r, opts)) out.push(r);
    }
  }
  return opts.lines !== undefined ? out.slice(Math.max(0, out.length - opts.lines)) : out;
}

function sinceLabel(t: Tain): string {
  const b = Buffer.alloc(12);
  b.writeBigUInt64BE((1n << 62n) + BigInt(t.secs) + 37n, 0);
  b.writeUInt32BE(t.nano, 8);
  return b.toString('hex');
}

/**
 * Merges records of several services by time, stably: a line without a
 * stamp keeps its place after the line before it in its own logdir.
 */
export function mergeByTime(lists: LogRecord[][]): LogRecord[] {
  if (lists.length === 1) return lists[0];
  const keyed: Array<{ r: LogRecord; key: Tain; list: number; i: number }> = [];
  lists.forEach((list, li) => {
    let last: Tain = { secs: -Infinity, nano: 0 };
    list.forEach((r, i) => {
      if (r.ts) last = r.ts;
      keyed.push({ r, key: last, list: li, i });
    });
  });
  keyed.sort((a, b) => compareTain(a.key, b.key) || a.list - b.list || a.i - b.i);
  return keyed.map((k) => k.r);
}

/**
 * The history of every source, merged by time. The cursors say where each
 * `current` was read up to: followLogs goes on from exactly there. Close
 * them with closeCursors if not following.
 */
export function readHistory(sources: readonly LogSource[], opts: HistoryOptions = {}): { records: LogRecord[]; cursors: LogCursor[] } {
  const cursors: LogCursor[] = [];
  const lists: LogRecord[][] = [];
  for (const source of sources) {
    const { files, cursor } = openLogdir(source);
    try {
      lists.push(sourceHistory(source, files, opts));
    } finally {
      for (const f of files) if (f.fd !== cursor.fd) closeSync(f.fd);
    }
    cursors.push(cursor);
  }
  let records = mergeByTime(lists);
  if (opts.lines !== undefined) records = records.slice(Math.max(0, records.length - opts.lines));
  return { records, cursors };
}

export function closeCursors(cursors: readonly LogCursor[]): void {
  for (const c of cursors) closeSync(c.fd);
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Follows one logdir from its cursor. */
class Follower {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private closed = false;
  /** Inodes already read to their end: their archives are not read again. */
  private readonly done: number[] = [];

  constructor(private readonly c: LogCursor, private readonly emit: (records: LogRecord[]) => void, private readonly fail: (err: Error) => void) {}

  start(): void {
    // inotify on the directory reports both writes to `current` and the rename of a rotation.
    this.watcher = watch(this.c.source.dir, () => this.schedule());
    this.watcher.on('error', (err) => this.fail(err));
    // A safety net for file systems without inotify (NFS): look once a second anyway.
    this.timer = setInterval(() => this.schedule(), 1000);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    try {
      closeSync(this.c.fd);
    } catch {
      // already closed
    }
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed) return;
      try {
        this.check();
      } catch (err) {
        this.fail(err as Error);
      }
    });
  }

  /** Hands out the complete lines added to the open file since last time. */
  private drain(): void {
    const size = fstatSync(this.c.fd).size;
    while (this.c.offset < size) {
      const buf = readRange(this.c.fd, this.c.offset, Math.min(size, this.c.offset + 4 * BLOCK));
      const end = buf.lastIndexOf(10) + 1;
      if (end === 0) {
        if (buf.length < 4 * BLOCK) return; // a line still being written
        // A line longer than the block: read it whole.
        const nl = lastLineEnd(this.c.fd, size);
        if (nl <= this.c.offset) return;
        this.handOut(readRange(this.c.fd, this.c.offset, nl));
        continue;
      }
      this.handOut(buf.subarray(0, end));
    }
  }

  private handOut(buf: Buffer): void {
    this.c.offset += buf.length;
    this.emit(splitLines(buf).map((raw) => parseLine(Buffer.from(raw), this.c.source.service)));
  }

  /**
   * Drains `current`; once it has been rotated (`current` is another file),
   * drains the old file to its end, then every file rotated after it, then
   * goes on with the new `current`.
   */
  private check(): void {
    for (;;) {
      this.drain();
      const st = statOrNull(join(this.c.source.dir, 'current'));
      // No current: between a rotation's rename and its new file; the creation wakes us.
      if (!st || st.ino === this.c.ino) return;
      // Nothing more is written to a file once it is renamed.
      this.drain();
      if (!this.switchFile()) return;
    }
  }

  /**
   * Opens the new `current`, then reads the files rotated between the old
   * one and it. A rotation renames `current` to `previous` before it creates
   * the new file, and links the archive before it unlinks `previous`: so once
   * the new file is open, each file rotated before it is either `previous`
   * still (wait for it) or an archive already.
   */
  private switchFile(): boolean {
    remember(this.done, this.c.ino);
    let fd: number;
    try {
      fd = openSync(join(this.c.source.dir, 'current'), 'r');
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return false;
      throw err;
    }
    const ino = fstatSync(fd).ino;
    const previous = statOrNull(join(this.c.source.dir, 'previous'));
    if (previous && !this.done.includes(Number(previous.ino))) {
      closeSync(fd);
      return false;
    }
    this.readArchivesBefore(ino);
    closeSync(this.c.fd);
    this.c.fd = fd;
    this.c.ino = ino;
    this.c.offset = 0;
    return true;
  }

  /** Archives newer than the last one seen, up to the file `stop` (itself rotated already): read whole, in order. */
  private readArchivesBefore(stop: number): void {
    const newer = archiveNames(this.c.source.dir).filter((n) => n.slice(1, 25) > this.c.lastArchive.slice(1, 25));
    for (const name of newer) {
      let fd: number;
      try {
        fd = openSync(join(this.c.source.dir, name), 'r');
      } catch {
        this.c.lastArchive = name;
        continue; // trimmed meanwhile
      }
      try {
        const st = fstatSync(fd);
        if (st.ino === stop) return;
        this.c.lastArchive = name;
        if (this.done.includes(st.ino)) continue; // read through its fd as current
        remember(this.done, st.ino);
        this.emit(linesOf({ fd, end: st.size, name }).map((raw) => parseLine(Buffer.from(raw), this.c.source.service)));
      } finally {
        closeSync(fd);
      }
    }
  }
}

/** Keeps the last inodes read to their end. */
function remember(list: number[], ino: number): void {
  if (list.includes(ino)) return;
  list.push(ino);
  if (list.length > 64) list.shift();
}

/**
 * Follows every cursor's logdir: `onRecords` gets each new batch of lines,
 * those of one turn of the event loop merged by time.
 */
export function followLogs(cursors: readonly LogCursor[], onRecords: (records: LogRecord[]) => void, onError: (err: Error) => void): { close(): void } {
  // Per logdir, in order: merged across logdirs once per turn.
  let pending = new Map<number, LogRecord[]>();
  let flushing = false;
  const flush = () => {
    flushing = false;
    const batch = [...pending.values()];
    pending = new Map();
    const merged = mergeByTime(batch);
    if (merged.length > 0) onRecords(merged);
  };
  const followers = cursors.map((c, i) => new Follower(c, (records) => {
    if (records.length === 0) return;
    const list = pending.get(i);
    if (list) for (const r of records) list.push(r);
    else pending.set(i, records);
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  }, onError));
  for (const f of followers) f.start();
  return { close: () => followers.forEach((f) => f.close()) };
}
