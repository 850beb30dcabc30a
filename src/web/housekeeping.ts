// One timer for everything periodic, and only while a connection is open:
// the event streams' heartbeat, and the deadline for a request's headers.
// Node's own header-timeout check runs on a timer of its own from listen()
// on, which would wake an idle server between heartbeats; it is turned off
// (connectionsCheckingInterval) and done here instead, on the same tick.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** At most this often an idle page costs the server a wakeup. */
export const TICK_MS = 15_000;
/** A connection that has not sent a whole request this long after connecting, or after its last answer, is closed. */
export const HEADERS_MS = 30_000;
/** Node's periodic check, pushed out of reach (the longest a Node timer holds). */
export const NODE_CHECK_OFF = 2 ** 31 - 1;

export class Housekeeping {
  /** Each open connection, with when it began waiting for a request (0 while one is served). */
  private readonly waiting = new Map<Socket, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(server: Server, private readonly onTick: () => void) {
    server.on('connection', (socket: Socket) => this.opened(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.serving(req.socket, res));
  }

  private opened(socket: Socket): void {
    this.waiting.set(socket, Date.now());
    socket.once('close', () => {
      this.waiting.delete(socket);
      if (this.waiting.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    });
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
  }

  private serving(socket: Socket, res: ServerResponse): void {
    this.waiting.set(socket, 0);
    res.once('finish', () => {
      if (this.waiting.has(socket)) this.waiting.set(socket, Date.now());
    });
  }

  private tick(): void {
    const now = Date.now();
    for (const [socket, since] of this.waiting) if (since > 0 && now - since > HEADERS_MS) socket.destroy();
    this.onTick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const socket of this.waiting.keys()) socket.destroy();
  }
}
