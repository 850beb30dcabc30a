// cgroup v2 leaves for a shared host's services. Membership of a cgroup is
// inherited by every fork and survives setsid, double forks and a scrubbed
// environment, so it tells a service's processes apart exactly, where the
// environment marker is a best effort. Each service gets a leaf under a
// cgroup of the host's own (named after the scan directory), created in the
// host's cgroup. The host's main thread joins the leaf around each
// synchronous spawn, so the child is born in it (no window in which it could
// fork outside), and goes back at once. No controller is enabled, so the
// no-internal-process rule does not apply. Where there is no writable cgroup2
// hierarchy, nothing here is used and attribution falls back to groups and
// markers.
//
// The leaves are threaded cgroups, and the host lives in the tree (their
// threaded domain), where the kernel allows it: moving the whole process
// (cgroup.procs) takes the global threadgroup lock, whose write side waits
// for an RCU grace period (5 to 10 ms measured on a restart with strace -T,
// two thirds of a shared host's restart), while moving the calling thread
// alone (`0` to cgroup.threads) skips it (0.1 to 0.2 ms). A child is born in
// its forking thread's cgroup, so it lands in the leaf all the same. Where a
// threaded leaf cannot be made (a leaf of an older host still populated, an
// older kernel), the leaves are domains and the whole process moves, as before.
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { errnoOf } from '../base/errno';

/** The cgroup2 path of `pid` (the `0::` line of /proc/PID/cgroup), or null (gone, or no cgroup2). */
export function cgroupPathOf(pid: number | 'self'): string | null {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'latin1').split('\n').find((l) => l.startsWith('0::'));
    return line === undefined ? null : line.slice(3);
  } catch {
    return null;
  }
}

/** Where the cgroup2 hierarchy is mounted, and our cgroup's directory in it; null if there is none. */
export function ownCgroup2(): string | null {
  const path = cgroupPathOf('self');
  if (path === null) return null;
  for (const entry of readFileSync('/proc/self/mountinfo', 'latin1').split('\n')) {
    // id parent major:minor root mountpoint options... - fstype source superoptions
    const [left, right] = entry.split(' - ');
    if (right === undefined || !right.startsWith('cgroup2 ')) continue;
    const fields = left.split(' ');
    const root = unescapeMount(fields[3]);
    const point = unescapeMount(fields[4]);
    // Our cgroup must lie under what this mount shows (a namespaced mount shows a subtree).
    if (root !== '/' && path !== root && !path.startsWith(`${root}/`)) continue;
    const rel = root === '/' ? path : path.slice(root.length);
    return join(point, rel);
  }
  return null;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** A cgroup directory name from a service key (dev:ino). */
function leafName(key: string): string {
  return `svc-${key.replace(/[^0-9A-Za-z_.-]/g, '-')}`;
}

/**
 * The pids in a cgroup: cgroup.procs, or in a threaded cgroup (where the
 * kernel refuses to read that), the threads in it that lead their process.
 * Empty if it is gone.
 */
export function cgroupProcs(dir: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'cgroup.procs'), 'latin1');
  } catch (err) {
    if (errnoOf(err) !== 'ENOTSUP' && errnoOf(err) !== 'EOPNOTSUPP') return [];
    return threadLeaders(dir);
  }
  return pidList(text);
}

function pidList(text: string): number[] {
  return text.split('\n').filter(Boolean).map(Number);
}

/** The threads of a threaded cgroup that are their process's main thread (tid = tgid). */
function threadLeaders(dir: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'cgroup.threads'), 'latin1');
  } catch {
    return [];
  }
  return pidList(text).filter((tid) => tgidOf(tid) === tid);
}

function tgidOf(tid: number): number | undefined {
  try {
    const m = /\nTgid:\s*(\d+)/.exec(readFileSync(`/proc/${tid}/status`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function writeFile(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** One service's leaf. */
export class ServiceCgroup {
  /** Made (and typed) by us since it was last removed: a spawn need not make it again. */
  private made = false;

  constructor(
    private readonly tree: CgroupTree,
    readonly dir: string,
  ) {}

  /**
   * Runs `spawn` (synchronous) with this process's main thread (or, with
   * domain leaves, the whole process) in the leaf, so that the child starts
   * there; we are back in our own cgroup when it returns. Throws, before
   * spawning, if the leaf cannot be made or joined. A failed return home
   * cannot undo a spawn: `stuck` hears of it instead.
   */
  spawnInside<T>(spawn: () => T, stuck: (reason: string) => void): T {
    this.enter();
    try {
      return spawn();
    } finally {
      try {
        this.tree.returnHome();
      } catch (err) {
        stuck(`unable to leave ${this.dir} for our own cgroup: ${errnoOf(err) ?? (err as Error).message}`);
      }
    }
  }

  private enter(): void {
    if (!this.made) this.make();
    try {
      this.tree.join(this.dir);
    } catch (err) {
      // Removed behind our back (or never made): made again, once.
      if (errnoOf(err) !== 'ENOENT') throw err;
      this.make();
      this.tree.join(this.dir);
    }
  }

  private make(): void {
    mkdirSync(this.dir, { recursive: true });
    if (this.tree.threaded) writeFile(join(this.dir, 'cgroup.type'), 'threaded');
    this.made = true;
  }

  /** The service's live processes (never us, who only pass through). */
  members(): number[] {
    return cgroupProcs(this.dir).filter((pid) => pid !== process.pid);
  }

  /**
   * SIGKILL to every process in the leaf at once (cgroup.kill, Linux 5.14);
   * a kernel without it, or a threaded leaf (refused there), leaves the
   * one-by-one kill to the caller.
   */
  killAll(): void {
    // Never while we are in it ourselves (a return home that failed): cgroup.kill would end us too.
    if (cgroupProcs(this.dir).includes(process.pid)) return;
    try {
      writeFile(join(this.dir, 'cgroup.kill'), '1');
    } catch {
      // no cgroup.kill, a threaded leaf, or the leaf is gone
    }
  }

  /**
   * Calls `fn` at each change of cgroup.events (inotify, no polling), for a
   * wait until the leaf is empty. Returns the stop.
   */
  onEvents(fn: () => void): () => void {
    let w: FSWatcher | undefined;
    try {
      w = watch(join(this.dir, 'cgroup.events'), () => fn());
      w.on('error', () => w?.close());
    } catch {
      // the leaf is gone: nothing will change any more
    }
    return () => w?.close();
  }

  /** Removes the leaf if it is empty; false if a process still lives in it. */
  remove(): boolean {
    try {
      rmdirSync(this.dir);
      this.made = false;
      return true;
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') return false;
      this.made = false;
      return true;
    }
  }
}

interface TreePlace {
  /** Our own cgroup's directory. */
  home: string;
  /** The tree's directory, made. */
  dir: string;
  /** The tree as /proc/PID/cgroup names it. */
  path: string;
}

/** The host's cgroup for one scan directory, with a leaf per service. */
export class CgroupTree {
  private readonly leaves = new Map<string, ServiceCgroup>();

  private constructor(
    /** Our own cgroup, where the process goes back when it leaves. */
    private readonly home: string,
    readonly dir: string,
    /** The tree as /proc/PID/cgroup names it. */
    private readonly path: string,
    /** Threaded leaves, and the host living in the tree: a spawn moves one thread, not the process. */
    readonly threaded: boolean,
  ) {}

  /** True if `pid` lives in one of the tree's leaves. */
  holds(pid: number): boolean {
    return cgroupPathOf(pid)?.startsWith(`${this.path}/`) ?? false;
  }

  /**
   * The tree for the scan directory with identity `scanKey`, made if
   * missing; the reason instead where cgroup2 is absent or not writable.
   * With threaded leaves, the process moves into the tree (once) here.
   */
  static open(scanKey: string): CgroupTree | string {
    const place = CgroupTree.place(scanKey);
    if (typeof place === 'string') return place;
    const threaded = CgroupTree.threadable(place.dir);
    return new CgroupTree(place.home, place.dir, place.path, threaded);
  }

  /** Makes the tree's directory and checks that it is writable for real; the reason if not. */
  static place(scanKey: string): TreePlace | string {
    let home: string | null;
    try {
      home = ownCgroup2();
    } catch (err) {
      return `unable to read /proc/self/cgroup: ${errnoOf(err)}`;
    }
    if (home === null) return 'no cgroup2 hierarchy';
    const name = `tether-${scanKey.replace(/[^0-9A-Za-z_.-]/g, '-')}`;
    const dir = join(home, name);
    try {
      mkdirSync(dir, { recursive: true });
      // Writable for real: a probe leaf we can make and remove (a read-only or foreign hierarchy fails here).
      const probe = join(dir, 'probe');
      mkdirSync(probe, { recursive: true });
      rmdirSync(probe);
      readFileSync(join(dir, 'cgroup.events'));
    } catch (err) {
      return `${dir}: ${errnoOf(err) ?? (err as Error).message}`;
    }
    const own = cgroupPathOf('self') ?? '/';
    return { home, dir, path: `${own === '/' ? '' : own}/${name}` };
  }

  /**
   * Whether the leaves can be threaded: a threaded probe leaf can be made
   * (a populated domain leaf of an older host forbids it) and the process
   * can move into the tree, their threaded domain. False leaves the process
   * where it was.
   */
  private static threadable(dir: string): boolean {
    const probe = join(dir, 'probe-threaded');
    try {
      mkdirSync(probe, { recursive: true });
      writeFile(join(probe, 'cgroup.type'), 'threaded');
    } catch {
      return false;
    } finally {
      try {
        rmdirSync(probe);
      } catch {
        // already gone
      }
    }
    try {
      writeFile(join(dir, 'cgroup.procs'), String(process.pid));
      return true;
    } catch {
      return false;
    }
  }

  /** The leaf of the service with key `key` (not made until a spawn needs it). */
  leaf(key: string): ServiceCgroup {
    let leaf = this.leaves.get(key);
    if (!leaf) {
      leaf = new ServiceCgroup(this, join(this.dir, leafName(key)));
      this.leaves.set(key, leaf);
    }
    return leaf;
  }

  /** Into `leaf`: our main thread (threaded), or the whole process. */
  join(leaf: string): void {
    if (this.threaded) writeFile(join(leaf, 'cgroup.threads'), '0');
    else writeFile(join(leaf, 'cgroup.procs'), String(process.pid));
  }

  /** Back to our own cgroup after a spawn: the tree (threaded), or where we came from. */
  returnHome(): void {
    if (this.threaded) writeFile(join(this.dir, 'cgroup.threads'), '0');
    else writeFile(join(this.home, 'cgroup.procs'), String(process.pid));
  }

  /** Removes every empty leaf, then the tree if nothing is left in it; true if all went. */
  close(): boolean {
    let all = true;
    if (this.threaded) {
      // The tree cannot go while we live in it.
      try {
        writeFile(join(this.home, 'cgroup.procs'), String(process.pid));
      } catch {
        all = false;
      }
    }
    for (const leaf of this.leaves.values()) all = leaf.remove() && all;
    try {
      rmdirSync(this.dir);
    } catch (err) {
      all = all && errnoOf(err) === 'ENOENT';
    }
    return all;
  }
}

/** Why shared mode cannot use cgroups here, or undefined if it can: a cgroup made and removed again. */
export function cgroup2Problem(): string | undefined {
  const place = CgroupTree.place(`probe-${process.pid}`);
  if (typeof place === 'string') return place;
  try {
    rmdirSync(place.dir);
  } catch {
    // a concurrent probe of ours: nothing to undo
  }
  return undefined;
}
