// cgroup v2 leaves for a shared host's services. Membership of a cgroup is
// inherited by every fork and survives setsid, double forks and a scrubbed
// environment, so it tells a service's processes apart exactly, where the
// environment marker is a best effort. Each service gets a leaf under a
// cgroup of the host's own (named after the scan directory), created in the
// host's cgroup; the host joins the leaf around each synchronous spawn, so
// the child is born in it (no window in which it could fork outside), and
// goes back at once. No controller is enabled, so the no-internal-process
// rule does not apply. Where there is no writable cgroup2 hierarchy, nothing
// here is used and attribution falls back to groups and markers.
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

/** The pids in a cgroup (cgroup.procs); empty if it is gone. */
export function cgroupProcs(dir: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'cgroup.procs'), 'latin1');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map(Number);
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
  constructor(
    private readonly tree: CgroupTree,
    readonly dir: string,
  ) {}

  /**
   * Runs `spawn` (synchronous) with this process in the leaf, so that the
   * child starts there; we are back in our own cgroup when it returns.
   * Throws, before spawning, if the leaf cannot be made or joined. A failed
   * return home cannot undo a spawn: `stuck` hears of it instead.
   */
  spawnInside<T>(spawn: () => T, stuck: (reason: string) => void): T {
    mkdirSync(this.dir, { recursive: true });
    writeFile(join(this.dir, 'cgroup.procs'), String(process.pid));
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

  /** The service's live processes (never us, who only pass through). */
  members(): number[] {
    return cgroupProcs(this.dir).filter((pid) => pid !== process.pid);
  }

  /** SIGKILL to every process in the leaf at once (cgroup.kill, Linux 5.14); a kernel without it leaves the one-by-one kill to the caller. */
  killAll(): void {
    // Never while we are in it ourselves (a return home that failed): cgroup.kill would end us too.
    if (cgroupProcs(this.dir).includes(process.pid)) return;
    try {
      writeFile(join(this.dir, 'cgroup.kill'), '1');
    } catch {
      // no cgroup.kill, or the leaf is gone
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
      return true;
    } catch (err) {
      return errnoOf(err) === 'ENOENT';
    }
  }
}

/** The host's cgroup for one scan directory, with a leaf per service. */
export class CgroupTree {
  private readonly leaves = new Map<string, ServiceCgroup>();

  private constructor(
    /** Our own cgroup, where we return after each spawn. */
    private readonly home: string,
    readonly dir: string,
    /** The tree as /proc/PID/cgroup names it. */
    private readonly path: string,
  ) {}

  /** True if `pid` lives in one of the tree's leaves. */
  holds(pid: number): boolean {
    return cgroupPathOf(pid)?.startsWith(`${this.path}/`) ?? false;
  }

  /**
   * The tree for the scan directory with identity `scanKey`, made if
   * missing; null with the reason where cgroup2 is absent or not writable.
   */
  static open(scanKey: string): CgroupTree | string {
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
    return new CgroupTree(home, dir, `${own === '/' ? '' : own}/${name}`);
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

  /** Back to our own cgroup after a spawn. */
  returnHome(): void {
    writeFile(join(this.home, 'cgroup.procs'), String(process.pid));
  }

  /** Removes every empty leaf, then the tree if nothing is left in it; true if all went. */
  close(): boolean {
    let all = true;
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
  const probe = CgroupTree.open(`probe-${process.pid}`);
  if (typeof probe === 'string') return probe;
  probe.close();
  return undefined;
}
