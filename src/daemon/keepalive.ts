// Node exits when nothing ref'd is pending, and signal listeners (SIGCHLD
// included) are not ref'd. A wrapper whose only job is to wait for an adopted
// daemon's SIGCHLD must therefore hold the loop open by itself. A ref'd timer
// with the longest period Node allows (2^31 - 1 ms, 24.8 days) does it and
// wakes nobody in practice; a pipe read through epoll would do it too, but
// costs loading node:net, about 0.5 MiB of a process that only waits.
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export class LoopHold {
  private readonly timer = setInterval(() => {}, LONGEST_TIMER_MS);

  release(): void {
    clearInterval(this.timer);
  }
}
