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

/** Schedules one full garbage collection; the timer does not keep the process alive. */
export function collectStartupGarbage(): void {
  setTimeout(() => {
    // Exposes gc() to contexts created from now on; ours stays as it was.
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  }, AFTER_START_MS).unref();
}
