// Node exits when nothing ref'd is pending, and signal listeners (SIGCHLD
// included) are not ref'd. A watcher whose only job is to wait for an adopted
// daemon's SIGCHLD must therefore hold the loop open by itself: a pipe whose
// write end we keep, read through epoll, never becomes readable and costs
// nothing while it waits (s6 waits the same way on its selfpipe).
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { O_CLOEXEC, O_NONBLOCK, pipe } from '../os/native';

export class LoopHold {
  private readonly socket: Socket;
  private readonly writeFd: number;

  constructor() {
    const [r, w] = pipe(O_CLOEXEC | O_NONBLOCK);
    this.writeFd = w;
    this.socket = new Socket({ fd: r, readable: true, writable: false });
  }

  release(): void {
    this.socket.destroy();
    closeSync(this.writeFd);
  }
}
