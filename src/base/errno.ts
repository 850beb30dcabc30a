// Reading a system error: the errno name Node puts in `code`, and s6's
// strerror wording for the ones users meet.

/** The errno name (`ENOENT`) of a system error; undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The errno name if there is one, else the error's text: for short messages. */
export function errnoText(err: unknown): string {
  return errnoOf(err) ?? (err instanceof Error ? err.message : String(err));
}

/** The text of a system error as s6 prints it: the strerror part only. */
export function describe(err: unknown): string {
  const code = errnoOf(err);
  if (code !== undefined) return SYSTEM_MESSAGES[code] ?? code;
  return err instanceof Error ? err.message : String(err);
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
