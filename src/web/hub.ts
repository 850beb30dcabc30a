// Server-Sent Events of service transitions. However many browser tabs
// follow, each service has one subscription to its event fifodir, taken when
// the first follower arrives and dropped when the last leaves; scan
// directories are watched (inotify) meanwhile, so a service added or removed
// reaches the followers as a new snapshot. Idle, nothing runs but the
// heartbeat, sent on the server's one periodic tick.
import { watch, type FSWatcher } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { FifodirListener } from '../wire/fifodir';
import { describe } from '../base/errno';
import { COMMON_HEADERS } from './http';
import type { ServiceRef, ServiceSet } from './services';

/** A follower that lets this much pile up unread is dropped, so memory stays bounded. */
const MAX_BACKLOG = 1 << 20;

/** One open event stream; `only` limits it to one service. */
export class Follower {
  constructor(readonly res: ServerResponse, readonly only: string | null) {}

  /** Writes one SSE record; false if the follower was too far behind and was dropped. */
  send(record: string): boolean {
    if (this.res.destroyed) return false;
    if (this.res.writableLength > MAX_BACKLOG) {
      this.res.destroy();
      return false;
    }
    this.res.write(record);
    return true;
  }
}

/** Starts an event stream on `res`: headers, and how soon to reconnect. */
export function openStream(res: ServerResponse): void {
  res.writeHead(200, {
    ...COMMON_HEADERS,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 2000\n\n');
}

/** A comment line, so that proxies and browsers keep a stream open. */
export const HEARTBEAT = ': heartbeat\n\n';

/** One SSE record; JSON has no raw newline, so one `data:` line holds it. */
export function sseRecord(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Subscription {
  ref: ServiceRef;
  listener: FifodirListener;
}

export class EventHub {
  private readonly followers = new Set<Follower>();
  private readonly subs = new Map<string, Subscription>();
  private readonly watchers: FSWatcher[] = [];
  private rescanQueued = false;
  private readonly warned = new Set<string>();

  constructor(private readonly services: ServiceSet, private readonly warn: (m: string) => void) {}

  get followerCount(): number {
    return this.followers.size;
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  /** Adds a follower: subscribes first, then sends the snapshot, so no change falls between. */
  follow(res: ServerResponse, only: string | null): void {
    const follower = new Follower(res, only);
    this.followers.add(follower);
    res.on('close', () => this.unfollow(follower));
    if (this.followers.size === 1) this.watchScanDirs();
    this.sync(this.services.list());
    openStream(res);
    follower.send(this.snapshot(only));
  }

  private snapshot(only: string | null): string {
    // Every service, even one whose events could not be subscribed to (it was warned about).
    const refs = this.services.list().filter((r) => only === null || r.name === only);
    return sseRecord('snapshot', { services: this.services.rows(refs) });
  }

  private watchScanDirs(): void {
    for (const dir of this.services.scanDirs()) {
      try {
        // Only entries coming and going matter, not writes to files in the directory itself.
        const w = watch(dir, (type) => type === 'rename' && this.queueRescan());
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch (err) {
        this.warnOnce(dir, `unable to watch ${dir}: ${describe(err)}`);
      }
    }
  }

  /** A burst of directory changes (mkdir, then run, then log/...) is one rescan. */
  private queueRescan(): void {
    if (this.rescanQueued) return;
    this.rescanQueued = true;
    setImmediate(() => {
      this.rescanQueued = false;
      if (this.followers.size === 0) return;
      let refs: ServiceRef[];
      try {
        refs = this.services.list();
      } catch {
        return; // the scan directory itself went away
      }
      const before = [...this.subs.keys()].join('\0');
      this.sync(refs);
      if ([...this.subs.keys()].join('\0') === before) return;
      for (const f of this.followers) f.send(this.snapshot(f.only));
    });
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warn(message);
  }

  private unfollow(follower: Follower): void {
    if (!this.followers.delete(follower) || this.followers.size > 0) return;
    this.close();
  }

  /** Subscribes to services not yet followed and drops those that are gone (only while followed). */
  sync(refs: readonly ServiceRef[]): void {
    if (this.followers.size === 0) return;
    const wanted = new Map(refs.map((r) => [r.dir, r]));
    for (const [dir, sub] of this.subs) {
      if (wanted.get(dir)?.name === sub.ref.name) continue;
      sub.listener.close();
      this.subs.delete(dir);
    }
    for (const ref of refs) if (!this.subs.has(ref.dir)) this.subscribe(ref);
  }

  private subscribe(ref: ServiceRef): void {
    let listener: FifodirListener;
    try {
      listener = FifodirListener.subscribe(join(ref.dir, 'event'));
    } catch (err) {
      this.warnOnce(ref.dir, `unable to subscribe to events for ${ref.dir}: ${describe(err)}`);
      return;
    }
    this.subs.set(ref.dir, { ref, listener });
    listener.onEvents((events) => this.publish(ref, events));
  }

  /** The supervisor wrote its status before sending the events, so the row read now is current. */
  private publish(ref: ServiceRef, events: string): void {
    const record = sseRecord('service', { name: ref.name, events, service: this.services.row(ref) });
    for (const f of this.followers) if (f.only === null || f.only === ref.name) f.send(record);
  }

  /** A comment line, so that proxies and browsers keep the stream open. */
  beat(): void {
    for (const f of this.followers) f.send(HEARTBEAT);
  }

  /** Unsubscribes from everything and ends every stream. */
  close(): void {
    for (const w of this.watchers.splice(0)) w.close();
    for (const sub of this.subs.values()) sub.listener.close();
    this.subs.clear();
    for (const f of this.followers) f.res.end();
    this.followers.clear();
  }
}
