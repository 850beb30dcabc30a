// How the event loop learns that a notify socket has a datagram, without
// polling and without a thread. Node cannot watch an AF_UNIX SOCK_DGRAM fd
// (libuv calls it UV_UNKNOWN_HANDLE, net.Socket refuses it), so each socket is
// set O_ASYNC with F_SETOWN_EX = our main thread: the kernel sends it SIGIO when
// a datagram arrives (interrupting the loop's epoll_wait), libuv turns the
// signal into a callback on the main loop (its self-pipe), and we drain the
// registered sockets (fairly, below).
//
// Measured against the alternatives (scripts/bench/notify.mjs, README
// "Readiness from sd_notify"): idle it costs nothing (no timer, no thread), and
// a datagram reaches its handler in well under a millisecond. A koffi async
// recvmsg (or epoll_wait) would park one of libuv's 4 threadpool threads per
// blocked call: with one per socket, 4 services would starve every fs and dns
// call of the process, and 1000 services cannot be served at all; a worker
// thread blocked in recvmsg costs a V8 isolate (several MiB) per supervisor.
//
// SIGIO carries no fd (Node gives no siginfo), so one signal drains them all;
// a drain of many sockets first asks poll(2) which are readable. In a shared
// host many services' sockets share that one signal, so a drain is fair: each
// readable socket gets at most BATCH datagrams per round, and a round that
// left data behind schedules the next one (setImmediate) instead of looping.
// A flood on one socket then delays another service's READY=1 by one batch,
// not by the whole flood, and the loop's other I/O runs between rounds. The
// signal interrupts nothing that matters: libuv installs its handlers with
// SA_RESTART, so reads and writes elsewhere in the process resume, and the
// reaper's SIGCHLD works the same way.
import type { DatagramSocket } from '../os/socket';
import { readableAmong } from '../os/socket';

/**
 * Reads at most `budget` datagrams; returns true when it stopped at the
 * budget (more may be queued), false or nothing once it saw EAGAIN.
 */
export type Drain = (budget: number) => boolean | void;

/** Above this many sockets a drain asks poll(2) first rather than trying each one. */
const POLL_ABOVE = 8;
/** Datagrams one socket may have handled per round before the others get their turn. */
export const BATCH = 64;

const sockets = new Map<number, Drain>();
let listening = false;
let nextRound: NodeJS.Immediate | undefined;

function round(): void {
  nextRound = undefined;
  let more = false;
  if (sockets.size > POLL_ABOVE) {
    for (const fd of readableAmong([...sockets.keys()])) if (sockets.get(fd)?.(BATCH) === true) more = true;
  } else {
    // A Map iterates safely while a drain unwatches a socket (a service that stops).
    for (const drain of sockets.values()) if (drain(BATCH) === true) more = true;
  }
  if (more) nextRound ??= setImmediate(round);
}

/**
 * Calls `drain` whenever `sock` may have input, and once now for anything
 * queued before. The SIGIO listener is installed before the first socket
 * turns O_ASYNC on and stays for the life of the process: without it a late
 * SIGIO would kill us.
 */
export function watchSocket(sock: DatagramSocket, drain: Drain): void {
  if (!listening) {
    process.on('SIGIO', round);
    listening = true;
  }
  sockets.set(sock.fd, drain);
  sock.signalOnInput();
  if (drain(BATCH) === true) nextRound ??= setImmediate(round);
}

/** Stops watching; call before closing the socket (its fd number may be reused). */
export function unwatchSocket(sock: DatagramSocket): void {
  sockets.delete(sock.fd);
}
