// Errors a client reports, each carrying the exit code s6's tools use for it,
// so the CLI layer only prints and exits.

/** 100: the command line is wrong. */
export const EXIT_USAGE = 100;
/** 111: a system call failed. */
export const EXIT_SYSTEM = 111;
/** 99: a wait reached its deadline. */
export const EXIT_TIMEOUT = 99;
/** 102: the directory is not supervised (no supervise/, or nobody listens). */
export const EXIT_NOT_SUPERVISED = 102;

export class ClientError extends Error {
  constructor(message: string, readonly exitCode: number, readonly dir?: string) {
    super(message);
    this.name = 'ClientError';
  }
}

export class UsageError extends ClientError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** The text of a system error as s6 prints it: the strerror part only. */
export function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') return SYSTEM_MESSAGES[e.code] ?? e.code;
  return e instanceof Error ? e.message : String(err);
}

const SYSTEM_MESSAGES: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EPERM: 'Operation not permitted',
  ENXIO: 'No such device or address',
  EPROTO: 'Protocol error',
  EPIPE: 'Broken pipe',
  EAGAIN: 'Resource temporarily unavailable',
};
