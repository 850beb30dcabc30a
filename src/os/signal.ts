// One way to signal processes. The contract, for every caller:
// - killQuietly sends a signal to one process and reports whether it went:
//   a process already gone (ESRCH) or not ours to signal (EPERM: a service
//   that made itself another user's) is no error, as in s6. Anything else
//   (EINVAL, a bad signal) is a bug and throws.
// - Nothing here signals pid 1, 0 or -1 (init, our own group, everyone), nor
//   our own process group: a RangeError, since only a bug asks for that.
import { errnoOf } from '../base/errno';
import { procStat } from './proc';

export type Signal = NodeJS.Signals | number;

/** kill(pid, sig); false if the process is gone or not ours to signal. */
export function killQuietly(pid: number, sig: Signal): boolean {
  if (!Number.isInteger(pid) || pid <= 1) throw new RangeError(`refusing to signal pid ${pid}`);
  return kill(pid, sig);
}

/** kill(-pgid, sig), with killQuietly's contract; never group 1 or below, nor our own. */
export function killGroupQuietly(pgid: number, sig: Signal): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === ownGroup()) throw new RangeError(`refusing to signal process group ${pgid}`);
  return kill(-pgid, sig);
}

/** The process group of `pid` if it is one killGroupQuietly may signal; null if not, or if `pid` is gone. */
export function separateGroupOf(pid: number): number | null {
  const pgid = procStat(pid)?.pgid;
  return pgid === undefined || pgid <= 1 || pgid === ownGroup() ? null : pgid;
}

function ownGroup(): number | undefined {
  return procStat(process.pid)?.pgid;
}

function kill(target: number, sig: Signal): boolean {
  try {
    process.kill(target, sig);
    return true;
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ESRCH' || code === 'EPERM') return false;
    throw err;
  }
}
