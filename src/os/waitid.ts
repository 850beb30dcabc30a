// waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT): which child, if any, has
// exited, without reaping it. With a thousand children, this finds the one
// that died in one call, where a waitpid per child costs a thousand; the
// reaper then reaps that pid alone (so libuv's own children keep their
// statuses for libuv).
import koffi from 'koffi';
import { constants } from 'node:os';
import { NativeError } from './native';

const libc = koffi.load('libc.so.6');
const waitidRaw = libc.func('int waitid(int idtype, uint32_t id, void *infop, int options)');

const P_ALL = 0;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
/** siginfo_t is 128 bytes; for SIGCHLD, si_pid is the int at byte 16. */
const SIGINFO_SIZE = 128;
const SI_PID_OFFSET = 16;
const info = Buffer.alloc(SIGINFO_SIZE);

/** The pid of a child that has exited and is not reaped yet, or 0 if none (or no child at all). */
export function exitedChild(): number {
  info.fill(0);
  for (;;) {
    if (waitidRaw(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT) === 0) return info.readInt32LE(SI_PID_OFFSET);
    const errno = koffi.errno();
    if (errno === constants.errno.ECHILD) return 0;
    if (errno !== constants.errno.EINTR) throw new NativeError('waitid', errno);
  }
}
