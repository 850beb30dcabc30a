// The states a client can wait for, by name and by s6's letter.

/**
 * `up`, `ready` (up and ready), `down`, `finished` (down and finish done),
 * `restarted` (down and finished, then up), `restarted-ready` (then ready).
 */
export type WaitCondition = 'up' | 'ready' | 'down' | 'finished' | 'restarted' | 'restarted-ready';

export const CONDITION_BY_LETTER: Readonly<Record<string, WaitCondition>> = {
  u: 'up', U: 'ready', d: 'down', D: 'finished', r: 'restarted', R: 'restarted-ready',
};

