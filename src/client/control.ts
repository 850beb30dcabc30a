// Sending control bytes to a supervisor, the way s6-svc does: one write of
// every byte (at most 62, so the FIFO keeps it whole).
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_NOT_SUPERVISED, EXIT_SYSTEM } from '../base/exit';
import { describe } from '../base/errno';
import { openControl, writeControlBytes } from '../wire/control';
import { isSupervised, notSupervised } from './supervised';

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
    let fd: ReturnType<typeof openControl>;
    try {
      fd = openControl(supervise);
    } catch (err) {
      return { dir, exitCode: EXIT_SYSTEM, message: `unable to control ${dir}: ${describe(err)}` };
    }
    switch (fd) {
      case 'not-listening':
        if (lockHeld(dir)) return { dir, exitCode: EXIT_NOT_SUPERVISED, message: `unable to control ${dir}: supervisor not listening` };
        return { dir, exitCode: EXIT_NOT_SUPERVISED, message: notSupervised(dir) };
      case 'not-supervised':
        return { dir, exitCode: EXIT_NOT_SUPERVISED, message: notSupervised(dir) };
      case 'bad-control':
        // A supervisor holds the lock but its FIFO is gone: nobody can hear us, as the newest s6-svc says.
        if (lockHeld(dir)) return { dir, exitCode: EXIT_NOT_SUPERVISED, message: `unable to control ${dir}: supervisor not listening` };
        return { dir, exitCode: 1, message: `something is wrong with the ${supervise} directory: no control FIFO` };
      default:
        return new ControlChannel(dir, fd);
    }
  }

  /** Writes every byte at once; waits only if the supervisor's FIFO is full. */
  send(bytes: string): void {
    if (bytes.length > 0) writeControlBytes(this.fd, bytes);
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

function lockHeld(dir: string): boolean {
  try {
    return isSupervised(dir);
  } catch {
    return false; // the lock cannot be looked at: the FIFO's absence is what we report
  }
}
