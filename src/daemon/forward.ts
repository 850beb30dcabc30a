// Signal forwarding for the wrappers (background-watch, pidproxy): what a
// wrapper receives is meant for the process it wraps.

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

