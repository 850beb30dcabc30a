// The process-wide child reaper. Node's libuv reaps the children it spawned;
// everything else that lands on us (orphans re-parented to a subreaper or to
// pid 1, a daemon's forked child) is ours to reap. We never call waitpid(-1):
// it would steal libuv's exit statuses and hang node. Instead, on each SIGCHLD
// we list our children and reap, one pid at a time, those libuv did not spawn.
import type { ChildProcess } from 'node:child_process';
import { openSync, readSync } from 'node:fs';
import { becomeChildSubreaper, waitpidNohang } from './native';
import { exitedChild } from './waitid';

/**
 * Children reaped in one turn at most. A listener may restart the service
 * at once (its throttle second has passed) and a run that fails dies again
 * within milliseconds: with a hundred crash-looping services, a pass "until
 * no child has exited" that falls behind their throttle never ends, and the
 * host answers nothing (no control byte, no SIGTERM) while zombies pile up.
 */
const REAPS_PER_TURN = 16;

export type ReapListener = (pid: number, wstat: number) => void;

export class Reaper {
  private readonly spawned = new Set<number>();
  private readonly watchers = new Map<number, ReapListener[]>();
  private readonly orphanListeners: ReapListener[] = [];
  private childrenFd = -1;
  private buf = Buffer.alloc(16384);
  private started = false;
  private readonly sigchldListeners = new Set<() => void>();
  private listening = false;
  /** A pass is due on the next check phase (setImmediate). */
  private passDue = false;

  /** Installs the SIGCHLD handler; with `subreaper`, orphans of our descendants come to us. */
  start(opts: { subreaper: boolean }): void {
    if (this.started) return;
    this.started = true;
    if (opts.subreaper && process.pid !== 1) becomeChildSubreaper();
    this.childrenFd = openSync('/proc/thread-self/children', 'r');
    this.listen();
  }

  /**
   * The one SIGCHLD listener of the process. It only asks for a pass: libuv
   * queues one message per delivered SIGCHLD and calls us once per message,
   * reading on while its buffer comes back full. Reaping right here (deaths
   * that restart services, whose runs die and queue more messages) kept
   * that read loop, and so the whole poll phase, going for ever under a
   * hundred crash-looping services.
   */
  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    process.on('SIGCHLD', () => this.passSoon());
  }

  /**
   * One pass on the next check phase, however many SIGCHLDs (or cut-short
   * passes) asked for it: it reaps (once started), then tells those who
   * wait for a change among our children.
   */
  private passSoon(): void {
    if (this.passDue) return;
    this.passDue = true;
    setImmediate(() => {
      this.passDue = false;
      if (this.started) this.reap();
      for (const l of [...this.sigchldListeners]) l();
    });
  }

  /**
   * Calls `listener` after each pass that follows a SIGCHLD, once the
   * reaping is done: for a wait on a change of parentage (a daemon
   * re-parented to us). Returns the unsubscribe.
   */
  afterSigchld(listener: () => void): () => void {
    this.listen();
    this.sigchldListeners.add(listener);
    return () => this.sigchldListeners.delete(listener);
  }

  /**
   * Records a child that libuv spawned (child_process), so the reaper leaves
   * its exit status to libuv. Call it right after spawning, in the same turn.
   * child_process is the caller's import: a process that never spawns
   * through libuv (a wrapper that only waits) need not load it.
   */
  leaveToLibuv(child: ChildProcess): ChildProcess {
    const pid = child.pid;
    if (pid !== undefined) {
      this.spawned.add(pid);
      child.once('exit', () => this.spawned.delete(pid));
    }
    return child;
  }

  /**
   * Calls `listener` once when `pid`, a child we did not spawn, is reaped.
   * Several listeners may watch one pid (two services' records can name
   * the same orphan); each is called.
   */
  watch(pid: number, listener: ReapListener): void {
    const list = this.watchers.get(pid);
    if (list) list.push(listener);
    else this.watchers.set(pid, [listener]);
  }

  /** Called for every reaped child nobody watches. */
  onOrphan(listener: ReapListener): void {
    this.orphanListeners.push(listener);
  }

  /** The pids of our live or unreaped children that libuv does not own. */
  adoptedChildren(): number[] {
    return this.children().filter((pid) => !this.spawned.has(pid));
  }

  /**
   * Lists our children through /proc: preads on a kept fd until end of file.
   * The kernel hands out at most one page per read, about 800 pids, and
   * orphans join the end of the list: one read would miss exactly those.
   * Only this thread removes entries (by reaping), so the reads agree.
   */
  children(): number[] {
    if (this.childrenFd < 0) this.childrenFd = openSync('/proc/thread-self/children', 'r');
    let n = 0;
    for (;;) {
      if (n === this.buf.length) this.buf = Buffer.concat([this.buf, Buffer.alloc(this.buf.length)]);
      const got = readSync(this.childrenFd, this.buf, n, this.buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    const text = this.buf.toString('latin1', 0, n).trim();
    return text === '' ? [] : text.split(' ').map(Number);
  }

  /**
   * Reaps every exited child libuv does not own. Safe to call at any time.
   * While libuv has no child of ours, the dead are found by peeking
   * (waitid WNOWAIT): one SIGCHLD costs the children that died, not all of
   * them (a shared scanner has one per service); past REAPS_PER_TURN the
   * pass goes on at the next turn. Otherwise each child not libuv's is asked
   * in turn (one list, read once), so a dead libuv child is left to libuv.
   */
  reap(): void {
    if (this.spawned.size === 0) {
      let budget = REAPS_PER_TURN;
      for (let pid = exitedChild(); pid > 0 && this.spawned.size === 0; pid = exitedChild()) {
        if (!this.reapOne(pid)) break;
        // The rest goes on next turn: their SIGCHLDs were delivered already.
        if (--budget === 0) return this.passSoon();
      }
      if (this.spawned.size === 0) return;
    }
    for (const pid of this.adoptedChildren()) this.reapOne(pid);
  }

  /** waitpid(pid, WNOHANG) and the listeners; false if `pid` had not exited (or was not ours to wait). */
  private reapOne(pid: number): boolean {
    let wstat: number | null;
    try {
      wstat = waitpidNohang(pid);
    } catch {
      return false; // ECHILD: already reaped elsewhere, or not our child after all
    }
    if (wstat === null) return false;
    const watchers = this.watchers.get(pid);
    if (watchers) {
      this.watchers.delete(pid);
      for (const w of watchers) w(pid, wstat);
    } else {
      for (const l of this.orphanListeners) l(pid, wstat);
    }
    return true;
  }
}

/** One reaper per process: SIGCHLD and the children list are process-wide. */
export const reaper = new Reaper();
