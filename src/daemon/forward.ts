// Signal forwarding for the wrappers (background-watch, pidproxy): what a
// wrapper receives is meant for the process it wraps.
import { constants } from 'node:os';
import { errnoOf } from '../base/errno';

/**
 * Every signal a wrapper passes on. Left out: KILL and STOP (uncatchable),
 * CHLD (the reaper's), PIPE (our own writes to a closed fd raise it), and
 * ILL, BUS, FPE, SEGV (Node cannot safely run JS for a real fault).
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTRAP', 'SIGABRT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM',
  'SIGSTKFLT', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ',
  'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

/** Calls `to` with each forwarded signal received; returns a function that stops it. */
export function forwardSignals(to: (signal: NodeJS.Signals) => void, signals = FORWARDED_SIGNALS): () => void {
  const handlers = signals.map((sig) => {
    const h = () => to(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

export function signalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[signal];
}

/** Sends `signal` to `pid`; false if the process is gone. Never pid <= 1. */
export function sendSignal(pid: number, signal: NodeJS.Signals | number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) throw new RangeError(`refusing to signal pid ${pid}`);
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ESRCH') return false;
    throw err;
  }
}
