// Control bytes, and how a client writes them to a control FIFO.
import { closeSync, constants, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadNative } from '../os/lazy';
import { errnoOf } from '../base/errno';

/** Every byte s6-supervise understands, in s6's own order. */
export const SUPERVISE_COMMANDS = 'abqhkti12pcyrlPCKoduDUxOQ';

/** Control bytes that send one signal to the service's pid. */
export const SIGNAL_COMMANDS: Readonly<Record<string, NodeJS.Signals>> = {
  a: 'SIGALRM',
  b: 'SIGABRT',
  q: 'SIGQUIT',
  h: 'SIGHUP',
  k: 'SIGKILL',
  t: 'SIGTERM',
  i: 'SIGINT',
  '1': 'SIGUSR1',
  '2': 'SIGUSR2',
  y: 'SIGWINCH',
  p: 'SIGSTOP',
  c: 'SIGCONT',
};

/** Control bytes that send one signal to the service's process group. */
export const GROUP_SIGNAL_COMMANDS: Readonly<Record<string, NodeJS.Signals>> = {
  P: 'SIGSTOP',
  C: 'SIGCONT',
  K: 'SIGKILL',
};

/** The bytes s6-svscan understands. */
export const SVSCAN_COMMANDS = 'zabhitqnN';

export type ControlResult =
  /** The bytes were written. */
  | 'sent'
  /** The control FIFO exists but nobody reads it. */
  | 'not-listening'
  /** No supervise (or .s6-svscan) directory: never supervised. */
  | 'not-supervised'
  /** The control directory exists, but its control FIFO is missing or not a FIFO. */
  | 'bad-control';

/**
 * Opens `controlDir/control` for writing without blocking. Opening without a
 * reader fails at once (ENXIO), which is how a dead supervisor is detected.
 * Returns the fd, or why there is none; other errors are thrown.
 */
export function openControl(controlDir: string): number | Exclude<ControlResult, 'sent'> {
  try {
    return openSync(join(controlDir, 'control'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENXIO') return 'not-listening';
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      return isDirectory(controlDir) ? 'bad-control' : 'not-supervised';
    }
    throw err;
  }
}

/** Writes every byte in one write; waits for room only if the reader's FIFO is full. */
export function writeControlBytes(fd: number, bytes: string): void {
  const buf = Buffer.from(bytes, 'latin1');
  try {
    writeSync(fd, buf);
  } catch (err) {
    if (errnoOf(err) !== 'EAGAIN') throw err;
    // The reader is behind and its FIFO full: wait for room, as s6's clients do.
    loadNative().clearNonblock(fd);
    writeSync(fd, buf);
  }
}

/** Opens, writes `bytes` in one write, closes. */
export function writeControl(controlDir: string, bytes: string): ControlResult {
  const fd = openControl(controlDir);
  if (typeof fd !== 'number') return fd;
  try {
    writeControlBytes(fd, bytes);
    return 'sent';
  } finally {
    closeSync(fd);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
