// One logdir, with s6-log's layout and life cycle: `lock` (an fcntl lock),
// `current` (u+x once finalised cleanly), archives `@TAI64N.s` and `.u`,
// `previous`, `processed`, `state` and `newstate` while rotating, and the
// processor protocol. Rotation is rename and a new file, in s6-log's order,
// and resumes at the failed step after `r` ms. A failed write is retried
// every `r` ms; nothing is dropped and nothing deleted to make room.
import {
  chmodSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync,
  renameSync, statSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { spawnProgram, tryLockWrite } from '../os/native';
import { reaper } from '../os/reaper';
import { formatTain, tainNow, type Tain } from '../wire/tain';
import { OutBuffer } from './outbuf';
import type { LogdirSettings } from './script';
import { errnoText } from '../base/errno';

/** Exit 111: a logdir cannot be set up. */
export class LogdirError extends Error {}

export const ARCHIVE_NAME = /^@[0-9a-f]{24}\.[su]$/;

const { O_WRONLY, O_RDONLY, O_CREAT, O_APPEND, O_TRUNC, O_NONBLOCK } = constants;
const O_CLOEXEC = 0o2000000;
const APPEND = O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC;
const TRUNC = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;

/** The file mode s6-log gives logs: 0666 less the umask; u+x marks "finished". */
export const FILE_MODE = (() => {
  const mask = process.umask(0);
  process.umask(mask);
  return 0o666 & ~mask;
})();
const FINISHED = FILE_MODE | 0o100;

type Step =
  | 'sync' | 'rename' | 'newcurrent' | 'chmodprevious' | 'finishprevious'
  | 'runprocessor' | 'waitprocessor' | 'syncprocessed' | 'syncnewstate'
  | 'unlinkprevious' | 'renamestate' | 'finishprocessed';

/** Archive names sort in time and never collide, even within one clock tick. */
let lastArchive: Tain = { secs: 0, nano: 0 };
function archiveStamp(): string {
  let t = tainNow();
  const last = lastArchive;
  if (t.secs < last.secs || (t.secs === last.secs && t.nano <= last.nano)) {
    t = last.nano < 999_999_999 ? { secs: last.secs, nano: last.nano + 1 } : { secs: last.secs + 1, nano: 0 };
  }
  lastArchive = t;
  return formatTain(t);
}

function errCode(err: unknown): string {
  return errnoText(err);
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // s6-log's unlink_void: absent is fine
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return null;
    throw err;
  }
}

export interface LogdirHooks {
  warn(message: string): void;
  /** The logdir can take writes again, or has written everything. */
  changed(): void;
}

export class Logdir {
  /** Lines waiting to reach `current`. */
  readonly out = new OutBuffer();
  private fd = -1;
  private lockFd = -1;
  /** Bytes in `current`. */
  private size = 0;
  /** The rotation step to run next; null when writable. */
  private step: Step | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private rotateTimer: NodeJS.Timeout | null = null;
  private finalized = false;

  constructor(readonly settings: LogdirSettings, private readonly hooks: LogdirHooks) {}

  get dir(): string {
    return this.settings.dir;
  }

  /** Nothing waiting and no rotation under way. */
  get idle(): boolean {
    return this.out.length === 0 && this.step === null;
  }

  /** It takes writes now (not rotating, not waiting to retry). */
  get writable(): boolean {
    return this.step === null && this.retryTimer === null;
  }

  private path(name: string): string {
    return join(this.settings.dir, name);
  }

  /** mkdir, lock, recovery, open `current`: s6-log's start-up. Throws LogdirError. */
  init(): void {
    const dir = this.settings.dir;
    const must = <T>(what: string, fn: () => T): T => {
      try {
        return fn();
      } catch (err) {
        throw new LogdirError(`unable to ${what}: ${errCode(err)}`);
      }
    };
    must(`mkdir ${dir}`, () => {
      try {
        mkdirSync(dir, 0o2700);
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw err;
      }
    });
    this.lockFd = must(`open ${this.path('lock')}`, () => openSync(this.path('lock'), O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0o666));
    if (!must(`lock ${this.path('lock')}`, () => tryLockWrite(this.lockFd))) {
      throw new LogdirError(`unable to lock ${this.path('lock')}: another logger holds it`);
    }
    const current = must(`stat ${this.path('current')}`, () => statOrNull(this.path('current')));
    if (!current || (current.mode & 0o100) === 0) must(`recover ${dir}`, () => this.recover());
    this.fd = must(`open ${this.path('current')}`, () => openSync(this.path('current'), APPEND, 0o666));
    must(`chmod ${this.path('current')}`, () => fchmodSync(this.fd, FILE_MODE));
    this.size = fstatSync(this.fd).size;
    this.armRotateTimer();
  }

  /**
   * The previous logger did not finish cleanly: what it left is archived as
   * s6-log does (a finished `processed` as .s, else `previous` as .u, then
   * `current` as .u) and `state` starts empty.
   */
  private recover(): void {
    unlinkQuiet(this.path('state'));
    unlinkQuiet(this.path('newstate'));
    const processed = statOrNull(this.path('processed'));
    if (processed && processed.mode & 0o100) {
      unlinkQuiet(this.path('previous'));
      this.finish('processed', 's');
    } else {
      unlinkQuiet(this.path('processed'));
      this.finish('previous', 'u');
    }
    this.finish('current', 'u');
    closeSync(openSync(this.path('state'), TRUNC, 0o666));
  }

  /**
   * Archives `name` under the time now (a hard link, then unlink), unless it
   * is empty or linked elsewhere, in which case it is only removed; then trims.
   */
  private finish(name: string, suffix: 's' | 'u'): void {
    const from = this.path(name);
    const st = statOrNull(from);
    if (!st) return;
    if (st.nlink === 1 && st.size > 0) {
      for (;;) {
        try {
          linkSync(from, this.path(`${archiveStamp()}.${suffix}`));
          break;
        } catch (err) {
          // Another logger instance used this very stamp: take the next one.
          if (errCode(err) !== 'EEXIST') throw err;
        }
      }
    }
    unlinkSync(from);
    this.trim();
  }

  /** Deletes the oldest archives while there are more than `n` or they total more than `S`. */
  private trim(): void {
    const { count, maxTotal } = this.settings;
    const archives: Array<{ name: string; size: number }> = [];
    let total = 0;
    for (const name of readdirSync(this.settings.dir)) {
      if (!ARCHIVE_NAME.test(name)) continue;
      const st = statOrNull(this.path(name));
      if (!st) continue;
      archives.push({ name, size: st.size });
      total += st.size;
    }
    if (archives.length <= count && (!maxTotal || total <= maxTotal)) return;
    archives.sort((a, b) => (a.name.slice(1, 26) < b.name.slice(1, 26) ? -1 : 1));
    let gone = 0;
    while (archives.length > count + gone || (maxTotal && total > maxTotal)) {
      if (gone >= archives.length) break;
      const a = archives[gone++];
      try {
        unlinkSync(this.path(a.name));
        total -= a.size;
      } catch (err) {
        if (errCode(err) === 'ENOENT') total -= a.size;
        this.hooks.warn(`unable to unlink ${this.path(a.name)}: ${errCode(err)}`);
      }
    }
  }

  /**
   * Writes what is waiting, cut so that rotation happens right after the
   * first line that brings `current` within `l` bytes of `s`. One write per
   * call in the usual case; a failed write waits `r` ms and tries again.
   */
  flush(): void {
    const { size: max, tolerance } = this.settings;
    while (this.out.length > 0 && this.writable) {
      let n = this.out.length;
      const need = max - tolerance - this.size;
      if (need <= n) {
        const nl = this.out.indexOf(10, Math.max(need, 1) - 1);
        if (nl >= 0) n = nl + 1;
      }
      let written: number;
      try {
        written = writeSync(this.fd, this.out.view(), 0, n);
        if (written <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
      } catch (err) {
        this.hooks.warn(`unable to write to ${this.path('current')}: ${errCode(err)}; retrying in ${this.settings.retryMs} ms`);
        this.retryLater(() => this.flush());
        return;
      }
      const endsLine = this.out.at(written - 1) === 10;
      this.out.consume(written);
      this.size += written;
      if (endsLine && this.size + tolerance >= max) this.rotate();
    }
    if (this.writable) this.hooks.changed();
  }

  /** Starts a rotation now (size reached, `R`, SIGALRM), unless one is under way. */
  rotate(): void {
    if (this.step !== null || this.finalized) return;
    if (this.retryTimer) {
      // A write was failing: rotate anyway, as s6-log does, then retry the write.
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.step = 'sync';
    this.armRotateTimer();
    this.runSteps();
  }

  private armRotateTimer(): void {
    if (this.rotateTimer) clearTimeout(this.rotateTimer);
    this.rotateTimer = null;
    if (this.settings.rotateSecs > 0 && !this.finalized) {
      this.rotateTimer = setTimeout(() => this.rotate(), this.settings.rotateSecs * 1000);
      this.rotateTimer.unref();
    }
  }

  private retryLater(fn: () => void): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      fn();
    }, this.settings.retryMs);
  }

  /** Runs rotation steps until done, a failure (retried later) or a running processor. */
  private runSteps(): void {
    while (this.step !== null && this.step !== 'waitprocessor') {
      const step: Step = this.step;
      try {
        this.step = this.doStep(step);
      } catch (err) {
        this.hooks.warn(`unable to rotate ${this.settings.dir} (${step}): ${errCode(err)}; retrying in ${this.settings.retryMs} ms`);
        this.retryLater(() => this.runSteps());
        return;
      }
    }
    if (this.step === null) this.flush();
  }

  /** One step of s6-log's rotation; returns the next one. */
  private doStep(step: Step): Step | null {
    switch (step) {
      case 'sync':
        fsyncSync(this.fd);
        return 'rename';
      case 'rename':
        renameSync(this.path('current'), this.path('previous'));
        return 'newcurrent';
      case 'newcurrent': {
        const fd = openSync(this.path('current'), APPEND, 0o666);
        closeSync(this.fd);
        this.fd = fd;
        this.size = 0;
        return 'chmodprevious';
      }
      case 'chmodprevious':
        chmodSync(this.path('previous'), FINISHED);
        return this.settings.processor ? 'runprocessor' : 'finishprevious';
      case 'finishprevious':
        this.finish('previous', 's');
        return null;
      case 'runprocessor':
        this.runProcessor();
        return 'waitprocessor';
      case 'waitprocessor':
        return 'waitprocessor';
      case 'syncprocessed':
        syncFile(this.path('processed'), FINISHED);
        return 'syncnewstate';
      case 'syncnewstate':
        syncFile(this.path('newstate'), null);
        return 'unlinkprevious';
      case 'unlinkprevious':
        try {
          unlinkSync(this.path('previous'));
        } catch (err) {
          if (errCode(err) !== 'ENOENT') throw err;
        }
        return 'renamestate';
      case 'renamestate':
        renameSync(this.path('newstate'), this.path('state'));
        return 'finishprocessed';
      case 'finishprocessed':
        this.finish('processed', 's');
        return null;
    }
  }

  /** fd 0 previous, 1 processed, 4 state, 5 newstate; cwd the logdir. */
  private runProcessor(): void {
    const p = this.settings.processor!;
    const opened: number[] = [];
    try {
      const open = (name: string, flags: number) => {
        const fd = openSync(this.path(name), flags, 0o666);
        opened.push(fd);
        return fd;
      };
      const fds = new Map<number, number>([
        [0, open('previous', O_RDONLY | O_CLOEXEC)],
        [1, open('processed', TRUNC)],
        [4, open('state', O_RDONLY | O_CLOEXEC)],
        [5, open('newstate', TRUNC)],
      ]);
      reaper.start({ subreaper: false });
      const pid = spawnProgram({
        path: p.shell ? '/bin/sh' : 'execlineb',
        argv: p.shell ? ['/bin/sh', '-c', p.command] : ['execlineb', '-Pc', p.command],
        env: process.env,
        cwd: this.settings.dir,
        fds,
        newSession: false,
        searchPath: !p.shell,
      });
      // SIGCHLD listeners do not keep Node's loop alive: this does, until the processor is reaped.
      const keepAlive = setInterval(() => {}, 1 << 30);
      reaper.watch(pid, (_pid, wstat) => {
        clearInterval(keepAlive);
        this.processorDied(wstat);
      });
    } finally {
      for (const fd of opened) closeSync(fd);
    }
  }

  private processorDied(wstat: number): void {
    const signal = wstat & 0x7f;
    const code = (wstat >> 8) & 0xff;
    if (signal !== 0 || code !== 0) {
      this.hooks.warn(`processor ${signal ? 'crashed' : 'failed'} in ${this.settings.dir}; running it again in ${this.settings.retryMs} ms`);
      this.step = 'runprocessor';
      this.retryLater(() => this.runSteps());
      return;
    }
    this.step = 'syncprocessed';
    this.runSteps();
  }

  /**
   * At exit, once idle: fsync `current` and mark it u+x, "finished cleanly".
   * Returns false if that failed (the caller retries).
   */
  finalize(): boolean {
    if (this.finalized) return true;
    try {
      fsyncSync(this.fd);
      fchmodSync(this.fd, FINISHED);
    } catch (err) {
      this.hooks.warn(`unable to finalize ${this.path('current')}: ${errCode(err)}`);
      return false;
    }
    this.finalized = true;
    if (this.rotateTimer) clearTimeout(this.rotateTimer);
    return true;
  }
}

/** fsync a file by name (and chmod it, if asked). */
function syncFile(path: string, mode: number | null): void {
  const fd = openSync(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  try {
    fsyncSync(fd);
    if (mode !== null) fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
