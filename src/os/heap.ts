// A long-running tether process allocates most of what it ever will while it
// starts, then idles, and idle must mean idle: no timer of ours or V8's may
// wake it once start-up is over.
//
// V8's memory reducer, for small heaps, is armed by the first scavenge (about
// 0.2 s after start) and fires 8 s later (--gc-memory-reducer-start-delay-ms,
// fixed when the heap is set up): a few incremental collections, each waking
// the main thread and V8's workers, then never again. Measured on one idle
// `tether supervise` with `strace -f -tt -p PID` for 10 s from 2 s after
// start: about 300 system calls and 2 to 5 clock ticks with it, none without.
// It also returns start-up garbage, and so does one full collection a second
// after start, which start-up itself does not trigger: without either, an
// idle supervisor keeps about 1.4 MiB more.
//
// That collection is a memory-reducing one, as the reducer's are: V8's
// low-memory notification, which Node reaches only through the inspector's
// HeapProfiler.collectGarbage (an in-process session, no port). A plain full
// collection (gc()) sizes the young generation by how start-up went: once
// start-up allocated enough for a second scavenge (the notify code did), it
// doubled the semi-spaces and kept both committed, about 1 MiB more per
// supervisor. The reducing one shrinks them back and compacts the old
// generation: measured with 10 idle supervisors at 5 s (smaps_rollup),
// 10.3 MiB private each with gc(), 7.9 MiB with it.
//
// A shared scanner's heap is no small one (12.5 MB with 1000 services), and
// for such a heap the reducer is armed by any full collection, this one
// included, and no flag set from here disarms it (V8 reads --memory-reducer
// once, when it sets the heap up). Traced with --trace-gc-verbose on 1000
// idle services: it woke 8, 16 and 24 s after this collection, judged the
// allocation rate high twice (start-up still counted), then ran two
// incremental collections: 8 ticks over five threads, 32 s after all were
// up. bin/tether.js therefore starts svscan with --no-memory-reducer; this
// collection already returns what the reducer's would.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** When start-up is over: late enough to follow the first start of a service, early enough to matter. */
const AFTER_START_MS = 1000;

/**
 * Turns the memory reducer off for this (small) heap. Call first thing,
 * before the first scavenge arms it: the flag is read at each scavenge.
 */
export function noIdleHeapTimers(): void {
  setFlagsFromString('--no-memory-reducer-for-small-heaps');
}

/** Schedules one memory-reducing full garbage collection; the timer does not keep the process alive. */
export function collectStartupGarbage(): void {
  setTimeout(() => {
    if (!collectThroughInspector()) collectWithGc();
  }, AFTER_START_MS).unref();
}

/** V8's low-memory notification (two or more reducing full collections); false if the inspector is not there. */
function collectThroughInspector(): boolean {
  if (!process.features.inspector) return false;
  try {
    const { Session } = require('node:inspector') as typeof import('node:inspector');
    const session = new Session();
    session.connect();
    // The collection runs as a task of its own, after this turn; the session
    // must not be closed before, nor from inside its own callback (that deadlocks).
    session.post('HeapProfiler.collectGarbage', () => setImmediate(() => session.disconnect()));
    return true;
  } catch {
    return false;
  }
}

function collectWithGc(): void {
  // Exposes gc() to contexts created from now on; ours stays as it was.
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}
