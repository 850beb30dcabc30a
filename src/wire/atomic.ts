import { closeSync, openSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import { errnoOf } from '../base/errno';

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
    fd = createFresh(tmp, mode);
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

/** Attempts at creating `path.new` afresh before giving up (EEXIST): someone keeps planting one. */
const CREATE_ATTEMPTS = 3;

/**
 * Creates `tmp` as a new file of ours: O_EXCL|O_NOFOLLOW, so a planted
 * symlink (or anything else there) is never opened, let alone truncated or
 * written through. What is there already (a leftover of a crash, or planted)
 * is unlinked, which removes a link itself and not its target, and the
 * creation is tried again.
 */
function createFresh(tmp: string, mode: number): number {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  for (let attempt = 1; ; attempt++) {
    try {
      return openSync(tmp, flags, mode);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST' || attempt === CREATE_ATTEMPTS) throw err;
    }
    try {
      unlinkSync(tmp);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  }
}
