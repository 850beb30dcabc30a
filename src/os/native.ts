// The only native code in tether: a handful of libc calls that Node does not
// expose, reached through koffi (an FFI with prebuilt binaries, so installing
// tether compiles nothing). Every call is synchronous and short: blocking
// calls would have to run on libuv's threadpool, which they would starve.
import koffi from 'koffi';
import { constants } from 'node:os';
import { readdirSync } from 'node:fs';

const libc = koffi.load('libc.so.6');

// struct flock on Linux x86_64 and aarch64: 32 bytes, koffi adds the padding.
export const Flock = koffi.struct('tether_flock', {
  l_type: 'short',
  l_whence: 'short',
  l_start: 'int64',
  l_len: 'int64',
  l_pid: 'int',
});

// struct pollfd: int fd; short events; short revents.
koffi.struct('tether_pollfd', { fd: 'int', events: 'short', revents: 'short' });

const c = {
  fcntlInt: libc.func('int fcntl(int fd, int cmd, int arg)'),
  fcntlLock: libc.func('int fcntl(int fd, int cmd, _Inout_ tether_flock *lock)'),
  mkfifo: libc.func('int mkfifo(const char *path, uint32_t mode)'),
  pipe2: libc.func('int pipe2(_Out_ int *fds, int flags)'),
  prctl: libc.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
  waitpid: libc.func('int waitpid(int pid, _Out_ int *status, int options)'),
  dup2: libc.func('int dup2(int oldfd, int newfd)'),
  // Through syscall(2): glibc has wrappers for pidfd_* only since 2.36.
  syscall: libc.func('long syscall(long nr, ...)'),
  poll: libc.func('int poll(_Inout_ tether_pollfd *fds, unsigned long nfds, int timeout)'),
};

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_GETFL = 3;
const F_SETFL = 4;
const F_OFD_GETLK = 36;
const F_OFD_SETLK = 37;
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;
const PR_SET_PDEATHSIG = 1;
const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, num]) => [num, name]),
);

/** An error shaped like Node's own system errors, so callers test `err.code`. */
export class NativeError extends Error {
  constructor(readonly syscall: string, readonly errno: number, readonly path?: string) {
    const code = errnoNames.get(errno) ?? `E${errno}`;
    super(`${syscall}${path === undefined ? '' : ` ${path}`}: ${code}`);
    this.code = code;
  }
  readonly code: string;
}

function check(rc: number, syscall: string, path?: string): number {
  if (rc < 0) throw new NativeError(syscall, koffi.errno(), path);
  return rc;
}

/**
 * Takes an open file description (OFD) write lock on the whole file, without
 * waiting. OFD locks conflict with the POSIX fcntl locks that s6 uses, so s6
 * sees them; unlike plain F_SETLK they are not dropped when this process
 * closes some other fd of the same file. Returns false if someone holds it.
 */
export function tryLockWrite(fd: number): boolean {
  const lock = { l_type: F_WRLCK, l_whence: 0, l_start: 0, l_len: 0, l_pid: 0 };
  if (c.fcntlLock(fd, F_OFD_SETLK, lock) === 0) return true;
  const errno = koffi.errno();
  if (errno === constants.errno.EAGAIN || errno === constants.errno.EACCES) return false;
  throw new NativeError('fcntl(F_OFD_SETLK)', errno);
}

/** True if another open file description holds a lock that a reader would hit. */
export function isLocked(fd: number): boolean {
  const lock = { l_type: F_RDLCK, l_whence: 0, l_start: 0, l_len: 0, l_pid: 0 };
  check(c.fcntlLock(fd, F_OFD_GETLK, lock), 'fcntl(F_OFD_GETLK)');
  return lock.l_type !== F_UNLCK;
}

export function mkfifo(path: string, mode: number): void {
  check(c.mkfifo(path, mode), 'mkfifo', path);
}

/** A real pipe (not the socketpair that child_process makes), both ends O_CLOEXEC. */
export function pipe(flags = O_CLOEXEC): [read: number, write: number] {
  const fds = [0, 0];
  check(c.pipe2(fds, flags), 'pipe2');
  return [fds[0], fds[1]];
}

export function setCloexec(fd: number, on = true): void {
  const cur = check(c.fcntlInt(fd, F_GETFD, 0), 'fcntl(F_GETFD)');
  check(c.fcntlInt(fd, F_SETFD, on ? cur | FD_CLOEXEC : cur & ~FD_CLOEXEC), 'fcntl(F_SETFD)');
}

/** Makes writes on `fd` wait instead of failing with EAGAIN. */
export function clearNonblock(fd: number): void {
  const flags = check(c.fcntlInt(fd, F_GETFL, 0), 'fcntl(F_GETFL)');
  check(c.fcntlInt(fd, F_SETFL, flags & ~O_NONBLOCK), 'fcntl(F_SETFL)');
}

export function dup2(oldfd: number, newfd: number): void {
  check(c.dup2(oldfd, newfd), 'dup2');
}

/** Orphaned descendants are re-parented to this process instead of to pid 1. */
export function becomeChildSubreaper(): void {
  check(c.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 'prctl(PR_SET_CHILD_SUBREAPER)');
}

/** The kernel sends `signal` to this process when its parent thread dies. */
export function setParentDeathSignal(signal: number): void {
  check(c.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0), 'prctl(PR_SET_PDEATHSIG)');
}

/**
 * Reaps one child if it has exited. Returns its raw wait status, or null if it
 * is still running. Only ever for pids that libuv did not spawn: reaping one of
 * libuv's children would steal its exit status and hang node.
 */
export function waitpidNohang(pid: number): number | null {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`waitpidNohang: bad pid ${pid}`);
  const status = [0];
  const rc = check(c.waitpid(pid, status, WNOHANG), 'waitpid');
  return rc === 0 ? null : status[0];
}

/**
 * Marks every inherited fd from 3 up close-on-exec, except those in `keep`.
 * libuv does not close fds that node inherited, so without this a stray fd
 * from whoever started us would leak into every service.
 */
export function cloexecStrayFds(keep: ReadonlySet<number> = new Set()): void {
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd < 3 || keep.has(fd)) continue;
    try {
      setCloexec(fd);
    } catch {
      // The fd used to list the directory is already closed: nothing to do.
    }
  }
}

// The same numbers on x86_64 and aarch64 (the unified syscall table).
const SYS_pidfd_send_signal = 424;
const SYS_pidfd_open = 434;
const POLLIN = 1;

/**
 * A pidfd: a handle on one process that cannot be confused with a later
 * process given the same pid. Close it with fs.closeSync.
 */
export function pidfdOpen(pid: number): number {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`pidfdOpen: bad pid ${pid}`);
  return check(Number(c.syscall(SYS_pidfd_open, 'int', pid, 'unsigned int', 0)), 'pidfd_open');
}

/** Signals exactly the process `pidfd` refers to (ESRCH once it has exited). */
export function pidfdSendSignal(pidfd: number, signal: number): void {
  check(Number(c.syscall(SYS_pidfd_send_signal, 'int', pidfd, 'int', signal, 'void *', null, 'unsigned int', 0)), 'pidfd_send_signal');
}

/**
 * Blocks the calling thread until `fd` is readable (for a pidfd: until the
 * process has exited) or `timeoutMs` has passed; true if readable. Only for
 * one-shot commands with nothing else to do meanwhile: it stops the event
 * loop, so a long-running process must never call it.
 */
export function pollReadable(fd: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pfd = { fd, events: POLLIN, revents: 0 };
    const left = Math.max(0, Math.min(deadline - Date.now(), 2 ** 31 - 1));
    const rc = c.poll(pfd, 1, left);
    if (rc > 0) return true;
    if (rc === 0) return false;
    const errno = koffi.errno();
    // A signal interrupted the wait: wait again for what is left of it.
    if (errno !== constants.errno.EINTR) throw new NativeError('poll', errno);
  }
}

// posix_spawn: glibc starts the child with clone(CLONE_VM|CLONE_VFORK), which
// costs the same whatever our size, where libuv's fork() copies the page
// tables of a 40 MiB node process (about 4 ms, most of a service's restart).
const spawnApi = {
  faInit: libc.func('int posix_spawn_file_actions_init(void *fa)'),
  faDestroy: libc.func('int posix_spawn_file_actions_destroy(void *fa)'),
  faChdir: libc.func('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)'),
  faDup2: libc.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
  faClose: libc.func('int posix_spawn_file_actions_addclose(void *fa, int fd)'),
  attrInit: libc.func('int posix_spawnattr_init(void *attr)'),
  attrDestroy: libc.func('int posix_spawnattr_destroy(void *attr)'),
  attrFlags: libc.func('int posix_spawnattr_setflags(void *attr, short flags)'),
  attrSigmask: libc.func('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
  attrSigdefault: libc.func('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
  sigemptyset: libc.func('int sigemptyset(void *set)'),
  sigfillset: libc.func('int sigfillset(void *set)'),
  spawn: libc.func('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)'),
  spawnp: libc.func('int posix_spawnp(_Out_ int *pid, const char *file, void *fa, void *attr, const char **argv, const char **envp)'),
};
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
// Opaque glibc types, given generous room: file actions 80 bytes, attr 336, sigset_t 128.
const FA_SIZE = 256;
const ATTR_SIZE = 1024;
const SIGSET_SIZE = 128;

export interface SpawnRequest {
  /** Path of the program, relative to `cwd` unless absolute; with `searchPath`, a bare name is looked up in PATH. */
  path: string;
  argv: readonly string[];
  /** The environment, as an object or as ready `NAME=value` strings (a caller spawning often converts once). */
  env: NodeJS.ProcessEnv | readonly string[];
  /** The child's working directory; ours if absent. */
  cwd?: string;
  /** fds for the child: target number -> our fd. 0-2 are inherited unless given here; all others are closed. */
  fds: ReadonlyMap<number, number>;
  /** A new session (pgid = sid = pid), as s6 starts services; otherwise our process group. Default true. */
  newSession?: boolean;
  /** Look a bare program name up in PATH, as a shell would (posix_spawnp). */
  searchPath?: boolean;
}

// Allocated once: spawnProgram is synchronous, and a restart should not feed the GC.
// The attributes never change, so each is set up once and kept for the process's life.
const spawnBuffers = {
  fa: Buffer.alloc(FA_SIZE),
  empty: Buffer.alloc(SIGSET_SIZE),
  all: Buffer.alloc(SIGSET_SIZE),
};
const spawnAttrs = new Map<boolean, Buffer>();

function must(rc: number, what: string): void {
  if (rc !== 0) throw new NativeError(what, rc);
}

/** No signal blocked, every signal at its default, and maybe a new session: the same for every child. */
function spawnAttr(newSession: boolean): Buffer {
  const ready = spawnAttrs.get(newSession);
  if (ready) return ready;
  const { empty, all } = spawnBuffers;
  const attr = Buffer.alloc(ATTR_SIZE);
  spawnApi.sigemptyset(empty);
  spawnApi.sigfillset(all);
  must(spawnApi.attrInit(attr), 'posix_spawnattr_init');
  try {
    const session = newSession ? POSIX_SPAWN_SETSID : 0;
    must(spawnApi.attrFlags(attr, session | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF), 'posix_spawnattr_setflags');
    must(spawnApi.attrSigmask(attr, empty), 'posix_spawnattr_setsigmask');
    // Node ignores SIGPIPE; an ignored signal would stay ignored across exec.
    must(spawnApi.attrSigdefault(attr, all), 'posix_spawnattr_setsigdefault');
  } catch (err) {
    spawnApi.attrDestroy(attr);
    throw err;
  }
  spawnAttrs.set(newSession, attr);
  return attr;
}

/** `NAME=value` strings of an environment object, unset entries left out. */
export function environStrings(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.push(`${k}=${v}`);
  return out;
}

/**
 * The child's fds as file actions. Each action costs a system call in the
 * child, which the parent waits for (vfork), and glibc checks every fd it is
 * given against the open-files limit (a prlimit64 each). So one dup2 per fd
 * where no target is another mapping's source (the usual case: our pipe ends
 * sit above 0-3); an fd given as itself is a dup2 onto itself, which glibc
 * (since 2.29, POSIX's issue 411) turns into clearing FD_CLOEXEC. Otherwise,
 * two phases through spare numbers, as libuv does; the spares sit just
 * above our own fds (so under the open-files limit) and avoid every target.
 */
function addFdActions(fa: Buffer, fds: ReadonlyMap<number, number>): void {
  const sources = new Set(fds.values());
  const clash = [...fds].some(([target, source]) => target !== source && sources.has(target));
  if (!clash) {
    for (const [target, source] of fds) must(spawnApi.faDup2(fa, source, target), 'posix_spawn_file_actions_adddup2');
    return;
  }
  let spare = Math.max(...fds.values());
  const nextSpare = () => {
    do spare++;
    while (fds.has(spare));
    return spare;
  };
  const moves = [...fds].map(([target, source]) => ({ target, source, parked: nextSpare() }));
  for (const m of moves) must(spawnApi.faDup2(fa, m.source, m.parked), 'posix_spawn_file_actions_adddup2');
  for (const m of moves) must(spawnApi.faDup2(fa, m.parked, m.target), 'posix_spawn_file_actions_adddup2');
  for (const m of moves) must(spawnApi.faClose(fa, m.parked), 'posix_spawn_file_actions_addclose');
}

/**
 * Starts a program, with every signal at its default disposition and none
 * blocked, and returns its pid. It is our child but not libuv's: reap it
 * through the reaper (reaper.watch). Exec failures (ENOENT, EACCES...) are
 * thrown here, synchronously.
 */
export function spawnProgram(opts: SpawnRequest): number {
  const { fa } = spawnBuffers;
  const attr = spawnAttr(opts.newSession ?? true);
  must(spawnApi.faInit(fa), 'posix_spawn_file_actions_init');
  try {
    if (opts.cwd !== undefined) must(spawnApi.faChdir(fa, opts.cwd), 'posix_spawn_file_actions_addchdir_np');
    // Node marks fds 0-2 close-on-exec: hand them over explicitly, like libuv's 'inherit'.
    const fds = new Map<number, number>([[0, 0], [1, 1], [2, 2]]);
    for (const [target, source] of opts.fds) fds.set(target, source);
    addFdActions(fa, fds);
    const env = Array.isArray(opts.env) ? opts.env : environStrings(opts.env as NodeJS.ProcessEnv);
    const pid = [0];
    const spawn = opts.searchPath ? spawnApi.spawnp : spawnApi.spawn;
    must(spawn(pid, opts.path, fa, attr, [...opts.argv, null], [...env, null]), `posix_spawn ${opts.path}`);
    return pid[0];
  } finally {
    spawnApi.faDestroy(fa);
  }
}
