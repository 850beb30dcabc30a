// Sending control bytes to a supervisor, the way s6-svc does: one write of
// every byte (at most 62, so the FIFO keeps it whole).
import { closeSync, constants, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_NOT_SUPERVISED, EXIT_SYSTEM, describe } from './errors';
import { loadNative } from '../os/lazy';

/** s6-svc's limit: a buffer of 63 bytes, one kept back. */
export const MAX_COMMANDS = 62;

export type ControlFailure = {
  dir: string;
  /** 102 not supervised, 1 supervise/ without a usable control FIFO, 111 system error. */
  exitCode: number;
  message: string;
};

/**
 * An open write end of `DIR/supervise/control`. Opening it first tells
 * whether a supervisor listens; writing later cannot block on a missing
 * reader, because the supervisor keeps its own write end open.
 */
export class ControlChannel {
  private constructor(readonly dir: string, private fd: number) {}

  static open(dir: string): ControlChannel | ControlFailure {
    const supervise = join(dir, 'supervise');
    try {
      return new ControlChannel(dir, openSync(join(supervise, 'control'), constants.O_WRONLY | constants.O_NONBLOCK));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') return { dir, exitCode: EXIT_NOT_SUPERVISED, message: `unable to control ${dir}: supervisor not listening` };
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
        if (!isDirectory(supervise)) return { dir, exitCode: EXIT_NOT_SUPERVISED, message: `unable to control ${dir}: not supervised` };
        return { dir, exitCode: 1, message: `something is wrong with the ${supervise} directory: ${describe(err)}` };
      }
      return { dir, exitCode: EXIT_SYSTEM, message: `unable to control ${dir}: ${describe(err)}` };
    }
  }

  /** Writes every byte at once; waits only if the supervisor's FIFO is full. */
  send(bytes: string): void {
    if (bytes.length === 0) return;
    const buf = Buffer.from(bytes, 'latin1');
    try {
      writeSync(this.fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      // A supervisor that is behind on its FIFO: wait for room, as s6-svc does.
      loadNative().clearNonblock(this.fd);
      writeSync(this.fd, buf);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

export function isControlFailure(x: ControlChannel | ControlFailure): x is ControlFailure {
  return !(x instanceof ControlChannel);
}

/** Sends `bytes` to one directory; returns null on success, else the failure. */
export function sendControl(dir: string, bytes: string): ControlFailure | null {
  const ch = ControlChannel.open(dir);
  if (isControlFailure(ch)) return ch;
  try {
    ch.send(bytes);
    return null;
  } catch (err) {
    return { dir, exitCode: EXIT_SYSTEM, message: `unable to control ${dir}: ${describe(err)}` };
  } finally {
    ch.close();
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
