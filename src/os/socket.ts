// AF_UNIX datagram sockets with credentials and fd passing: what a
// NOTIFY_SOCKET receiver needs and Node lacks (dgram is UDP only, and libuv
// classifies a unix datagram fd as UV_UNKNOWN_HANDLE, so net.Socket refuses
// it). Its own koffi load of libc, beside native.ts. Every call here is
// non-blocking; how the event loop learns that a socket is readable is
// notify/wakeup.ts's business (SIGIO).
import koffi from 'koffi';
import { closeSync } from 'node:fs';
import { NativeError } from './native';

const libc = koffi.load('libc.so.6');

const c = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, const void *addr, uint32_t len)'),
  getsockname: libc.func('int getsockname(int fd, void *addr, _Inout_ uint32_t *len)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
  recvmsg: libc.func('long recvmsg(int fd, void *msg, int flags)'),
  fcntl: libc.func('int fcntl(int fd, int cmd, int arg)'),
  fcntlOwner: libc.func('int fcntl(int fd, int cmd, const void *owner)'),
  poll: libc.func('int poll(void *fds, unsigned long nfds, int timeout)'),
  getpid: libc.func('int getpid(void)'),
};

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_PASSCRED = 16;
const SCM_RIGHTS = 1;
const SCM_CREDENTIALS = 2;
const MSG_TRUNC = 0x20;
const MSG_CTRUNC = 0x08;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
const F_SETFL = 4;
const F_GETFL = 3;
const F_SETOWN_EX = 15;
const F_OWNER_TID = 0;
const O_ASYNC = 0o20000;
const EAGAIN = 11;
const EINTR = 4;
const POLLIN = 1;

/** sun_path's size: a path needs its NUL too, so at most 107 bytes. */
export const SUN_PATH_MAX = 108;
/** systemd's NOTIFY_BUFFER_MAX (PIPE_BUF): a longer datagram is dropped. */
export const DATAGRAM_MAX = 4096;
/** systemd's NOTIFY_FD_MAX: room for that many fds, so a legitimate message's are never cut. */
const FD_MAX = 768;

// The one receive area of the process, in native memory (koffi does not keep
// a Buffer alive across a call, and a pointer inside msghdr must not move):
// msghdr, one iovec, the payload with a spare byte, the control data. Every
// recvmsg runs on the main thread and is copied out before the next.
const CMSG_HDR = 16;
const CREDS_SPACE = CMSG_HDR + 16; // CMSG_SPACE(sizeof(struct ucred) = 12)
const RIGHTS_SPACE = CMSG_HDR + FD_MAX * 4;
const CONTROL_LEN = CREDS_SPACE + RIGHTS_SPACE;
const OFF_IOV = 56;
const OFF_DATA = OFF_IOV + 16;
const OFF_CONTROL = OFF_DATA + DATAGRAM_MAX + 8;
const AREA_LEN = OFF_CONTROL + CONTROL_LEN;

let area: { ptr: unknown; view: Buffer } | undefined;
function receiveArea(): { ptr: unknown; view: Buffer } {
  if (area) return area;
  const ptr = koffi.alloc('uint8_t', AREA_LEN);
  const view = Buffer.from(koffi.view(ptr, AREA_LEN));
  const base = koffi.address(ptr);
  view.fill(0);
  view.writeBigUInt64LE(base + BigInt(OFF_IOV), 16); // msg_iov
  view.writeBigUInt64LE(1n, 24); // msg_iovlen
  view.writeBigUInt64LE(base + BigInt(OFF_CONTROL), 32); // msg_control
  view.writeBigUInt64LE(base + BigInt(OFF_DATA), OFF_IOV); // iov_base
  area = { ptr, view };
  return area;
}

function check(rc: number, syscall: string, path?: string): number {
  if (rc < 0) throw new NativeError(syscall, koffi.errno(), path);
  return rc;
}

/** struct sockaddr_un for `path` ("@name" for the abstract namespace), with its exact length. */
function sockaddr(path: string): { addr: Buffer; len: number } {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? `\0${path.slice(1)}` : path);
  if (name.length >= SUN_PATH_MAX + (abstract ? 1 : 0)) throw new NativeError('bind', 36 /* ENAMETOOLONG */, path);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  // A path includes its NUL; an abstract name is exactly its bytes, as clients connect to it.
  return { addr, len: 2 + name.length + (abstract ? 0 : 1) };
}

/** A received datagram, or why it was dropped. Its fds are ours to close. */
export interface Datagram {
  /** The payload; undefined when the kernel cut it (MSG_TRUNC). */
  payload: Buffer;
  truncated: boolean;
  controlTruncated: boolean;
  /** The sender's credentials as the kernel attests them (SO_PASSCRED); undefined if missing. */
  cred: { pid: number; uid: number; gid: number } | undefined;
  /** fds that came with it (SCM_RIGHTS), already close-on-exec. */
  fds: number[];
}

/**
 * A bound AF_UNIX SOCK_DGRAM socket, non-blocking and close-on-exec, with
 * SO_PASSCRED on, so every datagram carries its sender's pid, uid and gid.
 */
export class DatagramSocket {
  private constructor(readonly fd: number, readonly address: string) {}

  /**
   * Binds `path`. With `path` undefined, or too long for sun_path, the kernel
   * autobinds an abstract name ("@" and 5 hex digits): `address` has it.
   */
  static bind(path: string | undefined): DatagramSocket {
    const fd = check(c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 'socket');
    try {
      const one = Buffer.alloc(4);
      one.writeInt32LE(1);
      check(c.setsockopt(fd, SOL_SOCKET, SO_PASSCRED, one, 4), 'setsockopt(SO_PASSCRED)');
      if (path !== undefined && Buffer.byteLength(path) < SUN_PATH_MAX) {
        const { addr, len } = sockaddr(path);
        check(c.bind(fd, addr, len), 'bind', path);
        return new DatagramSocket(fd, path);
      }
      const family = Buffer.alloc(2);
      family.writeUInt16LE(AF_UNIX);
      check(c.bind(fd, family, 2), 'bind (autobind)');
      return new DatagramSocket(fd, boundName(fd));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** The file status flags without O_ASYNC, once signals were asked for. */
  private flags = -1;

  /**
   * Asks the kernel for SIGIO whenever a datagram arrives (O_ASYNC), sent
   * to the main thread (F_SETOWN_EX, F_OWNER_TID; its tid is the pid): the
   * signal then interrupts the event loop's epoll_wait itself, instead of
   * waking some other thread that must then wake the loop. A SIGIO listener
   * must be installed before: the default action of SIGIO terminates the process.
   */
  signalOnInput(): void {
    const owner = Buffer.alloc(8);
    owner.writeInt32LE(F_OWNER_TID, 0);
    owner.writeInt32LE(c.getpid(), 4);
    check(c.fcntlOwner(this.fd, F_SETOWN_EX, owner), 'fcntl(F_SETOWN_EX)');
    this.flags = check(c.fcntl(this.fd, F_GETFL, 0), 'fcntl(F_GETFL)') & ~O_ASYNC;
    this.signalling(true);
  }

  /**
   * Turns the SIGIO of signalOnInput off and on again (one fcntl): off
   * while the queue is being read, so a sender refilling it does not raise
   * one signal per datagram.
   */
  signalling(on: boolean): void {
    if (this.flags < 0) return;
    check(c.fcntl(this.fd, F_SETFL, on ? this.flags | O_ASYNC : this.flags), 'fcntl(F_SETFL)');
  }

  /** The next queued datagram, or undefined when none is left (EAGAIN). */
  receive(): Datagram | undefined {
    const { ptr, view } = receiveArea();
    for (;;) {
      // Low halves only (the high ones stay 0 from the fill): no BigInt on the READY=1 path.
      view.writeUInt32LE(DATAGRAM_MAX, OFF_IOV + 8); // iov_len
      view.writeUInt32LE(CONTROL_LEN, 40); // msg_controllen
      view.writeInt32LE(0, 48);
      const n = Number(c.recvmsg(this.fd, ptr, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC));
      if (n >= 0) return parseReceived(view, n);
      const errno = koffi.errno();
      if (errno === EAGAIN) return undefined;
      if (errno !== EINTR) throw new NativeError('recvmsg', errno);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function boundName(fd: number): string {
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  const len = [addr.length];
  check(c.getsockname(fd, addr, len), 'getsockname');
  const name = addr.subarray(2, len[0]);
  return name[0] === 0 ? `@${name.subarray(1).toString('latin1')}` : name.toString('latin1').replace(/\0.*$/, '');
}

function parseReceived(view: Buffer, n: number): Datagram {
  const flags = view.readInt32LE(48);
  const truncated = (flags & MSG_TRUNC) !== 0 || n > DATAGRAM_MAX;
  const payload = Buffer.from(view.subarray(OFF_DATA, OFF_DATA + Math.min(n, DATAGRAM_MAX)));
  // size_t fields read as their low halves: the kernel never sets more than CONTROL_LEN.
  const controlLen = view.readUInt32LE(40);
  let cred: Datagram['cred'];
  const fds: number[] = [];
  // Walk the cmsg headers: even a cut control area may hold fds the kernel installed.
  for (let off = 0; off + CMSG_HDR <= controlLen;) {
    const at = OFF_CONTROL + off;
    const len = view.readUInt32LE(at);
    if (view.readUInt32LE(at + 4) !== 0 || len < CMSG_HDR || off + len > controlLen) break;
    const level = view.readInt32LE(at + 8);
    const type = view.readInt32LE(at + 12);
    if (level === SOL_SOCKET && type === SCM_CREDENTIALS && len >= CMSG_HDR + 12) {
      cred = { pid: view.readInt32LE(at + 16), uid: view.readUInt32LE(at + 20), gid: view.readUInt32LE(at + 24) };
    } else if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let i = CMSG_HDR; i + 4 <= len; i += 4) fds.push(view.readInt32LE(at + i));
    }
    off += (len + 7) & ~7;
  }
  return { payload, truncated, controlTruncated: (flags & MSG_CTRUNC) !== 0, cred, fds };
}

/**
 * Which of `fds` have input waiting, in one poll(2) with no timeout: a round
 * of the wakeup then serves only those, instead of trying every one.
 */
export function readableAmong(fds: readonly number[]): number[] {
  if (fds.length === 0) return [];
  const buf = Buffer.alloc(fds.length * 8);
  fds.forEach((fd, i) => {
    buf.writeInt32LE(fd, i * 8);
    buf.writeInt16LE(POLLIN, i * 8 + 4);
  });
  const n = c.poll(buf, fds.length, 0);
  if (n < 0) return [...fds]; // EINTR or ENOMEM: read them all, EAGAIN tells
  const ready: number[] = [];
  for (let i = 0; i < fds.length && ready.length < n; i++) if (buf.readInt16LE(i * 8 + 6) !== 0) ready.push(fds[i]);
  return ready;
}
