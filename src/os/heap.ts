// A long-running tether process allocates most of what it ever will while it
// starts, then idles. V8 frees start-up garbage only after a full collection,
// and an idle process whose start-up did not grow the heap enough to trigger
// one keeps it for good: about 1.4 MiB per supervisor, measured with
// scripts/bench (private memory per added supervisor). One full collection,
// once start-up is over, returns it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** When start-up is over: late enough to follow the first start of a service, early enough to matter. */
const AFTER_START_MS = 1000;

/** Schedules one full garbage collection; the timer does not keep the process alive. */
export function collectStartupGarbage(): void {
  setTimeout(() => {
    // Exposes gc() to contexts created from now on; ours stays as it was.
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  }, AFTER_START_MS).unref();
}
