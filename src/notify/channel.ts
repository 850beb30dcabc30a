// One service's NOTIFY_SOCKET: the socket, the SIGIO wakeup, systemd's
// drop rules, the access check, and the fds that come along. What the
// messages mean is the caller's (supervise/notify.ts).
import { chmodSync, closeSync, unlinkSync } from 'node:fs';
import { DatagramSocket, type Datagram } from '../os/socket';
import { dropReason, parseMessage, type DropReason, type NotifyMessage } from './message';
import { senderAllowed, type NotifyAccess, type ServiceProcesses } from './access';
import { unwatchSocket, watchSocket } from './wakeup';

export interface ChannelOptions {
  /**
   * Where to bind (a short path, through /proc/self/fd), and the same socket's
   * path as the service reaches it. Without them an abstract name is autobound.
   */
  path: { bind: string; advertise: string } | undefined;
  /** The notify-access rule in force. */
  access: () => NotifyAccess;
  processes: () => ServiceProcesses;
  /** uids besides ours and root's that may send (the service's user, for an abstract socket). */
  uids: readonly number[];
  onMessage: (msg: NotifyMessage, senderPid: number) => void;
  warn: (message: string) => void;
}

export class NotifyChannel {
  private readonly sock: DatagramSocket;
  private readonly reported = new Set<string>();
  private closed = false;

  constructor(private readonly o: ChannelOptions) {
    if (o.path !== undefined) unlinkStale(o.path.bind);
    this.sock = DatagramSocket.bind(o.path?.bind);
    // Only the supervisor's user (and root) may connect to a path; others are refused at connect.
    if (o.path !== undefined) chmodSync(o.path.bind, 0o600);
    watchSocket(this.sock, (budget) => this.drain(budget));
  }

  /** What the service gets as NOTIFY_SOCKET: a path, or "@name". */
  get address(): string {
    return this.o.path?.advertise ?? this.sock.address;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    unwatchSocket(this.sock);
    this.sock.close();
    if (this.o.path !== undefined) unlinkStale(this.o.path.bind);
  }

  /**
   * Handles queued datagrams in order, at most `budget` of them; true when
   * it stopped at the budget (the wakeup calls again after the other sockets).
   */
  drain(budget: number): boolean {
    for (let n = 0; n < budget; n++) {
      if (this.closed) return false;
      let d: Datagram | undefined;
      try {
        d = this.sock.receive();
      } catch (err) {
        this.once('recvmsg', `unable to read the notify socket: ${(err as Error).message}`);
        return false;
      }
      if (d === undefined) return false;
      try {
        this.handle(d);
      } catch (err) {
        // We are inside a signal callback: a throw would end the supervisor, and with it the service's care.
        this.o.warn(`error handling a notification: ${(err as Error).message}`);
      } finally {
        // Without an fd store every fd is closed, BARRIER=1's included: closing it
        // after the messages before it were handled is exactly what the barrier waits for.
        for (const fd of d.fds) closeQuietly(fd);
      }
    }
    return true;
  }

  private handle(d: Datagram): void {
    const drop = dropReason(d);
    if (drop !== undefined) return this.dropped(drop, d);
    const { pid, uid } = d.cred!;
    const msg = parseMessage(d.payload);
    // As systemd: a barrier is answered before any access check (systemd-notify
    // sends it from its own pid, after a READY=1 sent on its parent's behalf).
    if (msg.barrierOnly && d.fds.length === 1) return;
    if (!this.uidAllowed(uid) || !senderAllowed(this.o.access(), pid, this.o.processes())) {
      this.once('refused', `ignoring notification from pid ${pid}: notify-access is ${this.o.access()} (reported once)`);
      return;
    }
    if (msg.barrier) this.once('barrier', `BARRIER=1 from pid ${pid} must come alone with exactly 1 fd (it had ${d.fds.length})`);
    if (msg.fdStore) this.once('fdstore', `FDSTORE=1 from pid ${pid}: tether keeps no fd store, the fds are closed`);
    this.o.onMessage(msg, pid);
  }

  private dropped(reason: DropReason, d: Datagram): void {
    this.once(`drop ${reason}`, `dropped a notification from pid ${d.cred?.pid ?? '?'}: ${reason} (reported once)`);
  }

  private uidAllowed(uid: number): boolean {
    return uid === 0 || uid === process.geteuid?.() || this.o.uids.includes(uid);
  }

  /** Each kind of complaint once per socket: a service looping on a bad message must not flood the log. */
  private once(kind: string, message: string): void {
    if (this.reported.has(kind)) return;
    this.reported.add(kind);
    this.o.warn(message);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF: nothing to close
  }
}

/** A socket left by a previous supervisor would make bind fail with EADDRINUSE. unlink never follows a link. */
function unlinkStale(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // ENOENT, or the bind will say what is wrong
  }
}
