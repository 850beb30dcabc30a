// The typed API for programs that embed tether. The CLI commands are thin
// layers over the same functions.
import { join } from 'node:path';
import { FifodirListener } from '../wire/fifodir';
import { isUp } from '../wire/status';
import type { WaitCondition } from './conditions';
import { EXIT_SYSTEM, Failure } from '../base/exit';
import { describe } from '../base/errno';
import { ServiceWatch } from './listen';
import { readStatusRecord } from './status';
import { commandBytes, controlServices, type SvcCommand } from './svc';

export interface SvcOptions {
  /** Wait for this state after sending (s6-svc -w). */
  wait?: WaitCondition;
  /** Bound on the wait, in ms; rejects with a Failure of code 99. */
  timeoutMs?: number;
  /**
   * Gets what s6-svc would print as a warning: a wait for readiness on a
   * service without notification-fd falls back to up. By default it goes to
   * process.emitWarning, code TETHER_READINESS_FALLBACK.
   */
  onWarning?: (message: string) => void;
}

/**
 * Sends commands (s6 letters like `'du'`, or names like `['down', 'up']`)
 * to the supervisor of each directory, and optionally waits for a state.
 * Rejects with a Failure whose `exitCode` is s6-svc's: 102 not
 * supervised, 1 no control FIFO, 99 timeout, n failures during the wait.
 */
export async function svc(dirs: string | readonly string[], commands: string | readonly SvcCommand[], opts: SvcOptions = {}): Promise<void> {
  const list = typeof dirs === 'string' ? [dirs] : dirs;
  const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, { code: 'TETHER_READINESS_FALLBACK' }));
  const outcome = await controlServices(list, commandBytes(commands), { ...opts, warn });
  const last = outcome.failures[outcome.failures.length - 1];
  if (last) throw new Failure(last.message, last.exitCode, last.dir);
  if (outcome.waitFailures > 0) {
    throw new Failure(`${outcome.waitFailures} service(s) failed permanently or lost their supervisor`, outcome.exitCode);
  }
}

export interface SvwaitOptions {
  timeoutMs?: number;
  /** Any one directory is enough; by default all must reach the state. */
  any?: boolean;
  /** Called between subscribing and reading the status (for tests of that window). */
  onSubscribed?: () => void;
}

/**
 * Resolves once the services reach `condition`. Rejects with a Failure:
 * code 99 at the deadline, n if supervisors exited or services failed
 * permanently on the way, 111 if a status cannot be read.
 */
export async function svwait(dirs: string | readonly string[], condition: WaitCondition, opts: SvwaitOptions = {}): Promise<void> {
  const list = typeof dirs === 'string' ? [dirs] : dirs;
  if (list.length === 0) return;
  const failures = await new ServiceWatch(list, opts.onSubscribed).wait(condition, opts);
  if (failures > 0) throw new Failure(`${failures} service(s) failed permanently or lost their supervisor`, failures);
}

/** What one event byte from the supervisor means. */
export type ServiceEventName = 'start' | 'up' | 'ready' | 'down' | 'finished' | 'permanent-failure' | 'exit';

const EVENT_NAMES: Readonly<Record<string, ServiceEventName>> = {
  s: 'start', u: 'up', U: 'ready', d: 'down', D: 'finished', O: 'permanent-failure', x: 'exit',
};

export interface ServiceChange {
  /** `status` for the first item (the state when watching began), then each event. */
  event: ServiceEventName | 'status';
  /** The event byte as s6 sends it (empty for `status`). */
  byte: string;
  /** State after this change; null while not known (supervisor starting). */
  up: boolean | null;
  ready: boolean;
}

export interface ServiceWatcher extends AsyncIterableIterator<ServiceChange> {
  /** Unsubscribes; a pending `next()` then ends the iteration. */
  close(): void;
}

/**
 * State changes of one service, from its event fifodir. The first item is
 * the state read right after subscribing, so no change is ever missed.
 * `break` out of a `for await`, or `close()`, unsubscribes.
 */
export function watchService(dir: string): ServiceWatcher {
  let listener: FifodirListener;
  try {
    listener = FifodirListener.subscribe(join(dir, 'event'));
  } catch (err) {
    throw new Failure(`unable to subscribe to events for ${dir}: ${describe(err)}`, EXIT_SYSTEM, dir);
  }
  const state: { up: boolean | null; ready: boolean } = { up: null, ready: false };
  const load = () => {
    try {
      const rec = readStatusRecord(dir);
      state.up = isUp(rec);
      state.ready = rec.ready;
    } catch {
      // Not written yet: the supervisor's `s` event will bring it.
    }
  };
  load();
  const queue: ServiceChange[] = [{ event: 'status', byte: '', ...state }];
  const waiting: Array<(r: IteratorResult<ServiceChange>) => void> = [];
  let closed = false;
  const push = (change: ServiceChange) => {
    const w = waiting.shift();
    if (w) w({ value: change, done: false });
    else queue.push(change);
  };
  listener.onEvents((events) => {
    for (const byte of events) {
      const event = EVENT_NAMES[byte];
      if (event === undefined) continue;
      if (byte === 's') load();
      else if (byte === 'u' || byte === 'U' || byte === 'd' || byte === 'D') {
        state.up = byte === 'u' || byte === 'U';
        state.ready = byte === 'U' || byte === 'D';
      }
      push({ event, byte, ...state });
    }
  });
  const close = () => {
    if (closed) return;
    closed = true;
    listener.close();
    for (const w of waiting.splice(0)) w({ value: undefined, done: true });
  };
  const watcher: ServiceWatcher = {
    next() {
      const item = queue.shift();
      if (item) return Promise.resolve({ value: item, done: false });
      if (closed) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiting.push(resolve));
    },
    return() {
      close();
      return Promise.resolve({ value: undefined, done: true });
    },
    close,
    [Symbol.asyncIterator]() {
      return watcher;
    },
  };
  return watcher;
}
