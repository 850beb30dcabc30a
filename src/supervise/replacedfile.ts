// supervise/status and supervise/death_tally: files a supervisor replaces
// whole, several times per restart, on the path between a death and the next
// start. Replacing a file means freeing the inode it replaces, and on ext4
// that is most of what rename() costs (0.2 to 1.4 ms each, measured with
// `perf trace` beside s6-supervise). Holding the current inode open makes the
// rename cheap; the old inode is then freed by a close() on a later turn of
// the event loop, after the restart is done and announced.
import { closeSync } from 'node:fs';
import { replaceFile } from '../wire/atomic';

/**
 * Replaced inodes held open at most: a burst of commands that each rewrite
 * status in one turn (a flood of `p` and `c`) frees the older ones at once
 * rather than running out of fds.
 */
export const MAX_RETIRED = 8;

export class ReplacedFile {
  /** Our fd of the inode now at `path`. */
  private held = -1;
  private readonly retired: number[] = [];

  constructor(
    readonly path: string,
    private readonly mode = 0o666,
  ) {}

  /** Atomic, as s6 writes it: readers see the old content or the new. Throws on failure. */
  write(data: Buffer): void {
    const fd = replaceFile(this.path, data, this.mode);
    if (this.held >= 0) this.retire(this.held);
    this.held = fd;
  }

  /** Lets go of every fd at once (the supervisor is exiting). */
  close(): void {
    if (this.held >= 0) this.retired.push(this.held);
    this.held = -1;
    this.closeRetired();
  }

  private retire(fd: number): void {
    if (this.retired.length >= MAX_RETIRED) closeSync(this.retired.shift()!);
    this.retired.push(fd);
    if (this.retired.length === 1) setImmediate(() => this.closeRetired());
  }

  private closeRetired(): void {
    for (const fd of this.retired.splice(0)) closeSync(fd);
  }
}
