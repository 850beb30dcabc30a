// s6's exit codes, and the one error that carries one. Library code throws a
// Failure; only src/cli/ turns it into a line on stderr and an exit code.

/** 99: a wait reached its deadline. */
export const EXIT_TIMEOUT = 99;
/** 100: the command line is wrong, or the request is refused as s6 refuses it. */
export const EXIT_USAGE = 100;
/** 102: the directory is not supervised (nobody listens on its control FIFO). */
export const EXIT_NOT_SUPERVISED = 102;
/** 104: a pid file is missing, malformed or names no process of ours. */
export const EXIT_BAD_PIDFILE = 104;
/** 111: a system call failed, or an internal error. */
export const EXIT_SYSTEM = 111;

export class Failure extends Error {
  /**
   * `usage`: the command line itself is wrong, so the CLI shows the synopsis
   * with the message. Such a Failure is named UsageError in stack traces.
   */
  constructor(message: string, readonly exitCode: number, readonly dir?: string, readonly usage = false) {
    super(message);
    this.name = usage ? 'UsageError' : 'Failure';
  }
}

/** A wrong command line (100), shown with the command's synopsis. */
export function usageError(message: string): Failure {
  return new Failure(message, EXIT_USAGE, undefined, true);
}
