import { closeSync, openSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';

/**
 * Replaces `path` as s6 does: write `path.new` whole, then rename over `path`,
 * so a reader sees the old content or the new, never a torn file. No fsync:
 * s6 does not either, and the rename is what readers rely on.
 */
export function writeFileAtomic(path: string, data: Buffer, mode = 0o644): void {
  closeSync(replaceFile(path, data, mode));
}

/**
 * writeFileAtomic, returning an open fd of the file now at `path` instead of
 * closing it. A caller that keeps it until the file is replaced again moves
 * the freeing of the old inode out of rename() and into a later close().
 */
export function replaceFile(path: string, data: Buffer, mode = 0o644): number {
  const tmp = `${path}.new`;
  let fd = -1;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK, mode);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    renameSync(tmp, path);
    return fd;
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    throw err;
  }
}
