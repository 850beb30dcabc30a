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
// SIGIO carries no fd (Node gives no siginfo), so one signal serves them all:
// poll(2) first says which sockets are readable. Two things keep a flood on
// one socket harmless:
// - Few signals. libuv's signal handler writes one message per signal into a
//   pipe, and when that pipe is full it DROPS the signal: a SIGCHLD lost that
//   way is a dead service never reaped (seen: a shared host flooded with
//   STATUS= lines stopped restarting its other services). The kernel sends
//   SIGIO per arriving datagram, so a socket is kept quiet (O_ASYNC off)
//   while it is read, and turned back on only once it is empty, then looked
//   at once more for what came in between.
// - Fairness. In a shared host many services' sockets share the signal: each
//   readable socket gets at most BATCH datagrams per round (the first place
//   goes round), and a round that left data behind schedules the next one
//   (setImmediate) instead of looping. A flood then delays another service's
//   READY=1 by one batch, and the loop's other I/O runs between rounds.
// The signal interrupts nothing that matters: libuv installs its handlers
// with SA_RESTART, so reads and writes elsewhere in the process resume, and
// the reaper's SIGCHLD works the same way.
import type { DatagramSocket } from '../os/socket';
import { readableAmong } from '../os/socket';

/**
 * Reads at most `budget` datagrams; returns true when it stopped at the
 * budget (more may be queued), false or nothing once it saw EAGAIN.
 */
export type Drain = (budget: number) => boolean | void;

/**
 * Datagrams one socket may have handled per round before the others get
 * their turn. Small: a datagram may cost a file write (STATUS=), and another
 * service's READY=1 waits for at most one batch of each flooding socket.
 */
export const BATCH = 16;

interface Watched {
  sock: DatagramSocket;
  drain: Drain;
  /** O_ASYNC is off (it stopped at its budget): served every round until it is empty, whatever poll says. */
  quiet: boolean;
}

const sockets = new Map<number, Watched>();
let listening = false;
let nextRound: NodeJS.Immediate | undefined;

/** Serves one readable socket; true if it still has datagrams queued (it then stays quiet). */
function serve(w: Watched): boolean {
  w.sock.signalling(false);
  w.quiet = true;
  if (w.drain(BATCH) === true) return true;
  // A message may have led its service to close the socket: its fd is not ours to touch then.
  if (sockets.get(w.sock.fd) !== w) return false;
  w.sock.signalling(true);
  w.quiet = false;
  // A datagram that came after the EAGAIN and before O_ASYNC was back raised no signal.
  return w.drain(BATCH) === true;
}

/** Where the next round starts: each socket goes first in turn. */
let turn = 0;

function round(): void {
  nextRound = undefined;
  let more = false;
  // A quiet socket emptied by its last batch is not readable, yet needs its O_ASYNC back.
  const ready = [...new Set([...readableAmong([...sockets.keys()]), ...[...sockets].filter(([, w]) => w.quiet).map(([fd]) => fd)])];
  turn = (turn + 1) % Math.max(ready.length, 1);
  for (let i = 0; i < ready.length; i++) {
    const w = sockets.get(ready[(turn + i) % ready.length]);
    // A drain may close another channel (a service that stops): its entry is gone then.
    if (w !== undefined && serve(w)) more = true;
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
  const w: Watched = { sock, drain, quiet: false };
  sockets.set(sock.fd, w);
  sock.signalOnInput();
  if (serve(w)) nextRound ??= setImmediate(round);
}

/** Stops watching; call before closing the socket (its fd number may be reused). */
export function unwatchSocket(sock: DatagramSocket): void {
  if (sockets.get(sock.fd)?.sock === sock) sockets.delete(sock.fd);
}
