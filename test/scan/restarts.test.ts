// The scanner's restart count (supervise/restarts), on a fake clock: a
// single restart is written at once, a crash loop at most once per
// WRITE_EVERY_MS, nothing waits on a timer once the count is written, and a
// count still waiting is written when the counter closes.
import t from 'tap';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RestartCounter, WRITE_EVERY_MS } from '../../src/scan/restarts';
import { makeFifodir, notifyFifodir } from '../../src/wire/fifodir';
import { readRestarts, restartsPath } from '../../src/wire/restarts';
import { FakeClock } from '../lib/fakeclock';
import { bounded, tempDir } from '../lib/harness';

t.test('a restart is written at once, a loop of them once per interval, the last one at close', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'supervise'));
  makeFifodir(join(dir, 'event'));
  const clock = new FakeClock();
  const warnings: string[] = [];
  const counter = RestartCounter.open(() => dir, (m) => warnings.push(m), clock)!;
  t.ok(counter, 'listening');
  const inode = () => statSync(restartsPath(dir)).ino;
  /** Waits until the file says `n` (the events are read on a later turn). */
  const until = (ok: () => boolean, what: string) => bounded((async () => {
    while (!ok()) await new Promise((r) => setTimeout(r, 5));
  })(), 30_000, what);
  const counted = (n: number) => until(() => readRestarts(dir) === n, `restarts ${n} on disk`);
  /** The events are read on a later turn: wait until the counter has heard `n` starts. */
  const heard = (n: number) => until(() => counter.startsHeard === n, `${n} starts heard`);
  notifyFifodir(join(dir, 'event'), 'u');
  await counted(0);
  t.pass('the first start: 0, written at once');
  clock.advance(WRITE_EVERY_MS);
  notifyFifodir(join(dir, 'event'), 'dDu');
  await counted(1);
  t.pass('a restart after a quiet interval: written at once');
  t.equal(clock.pending, 0, 'no timer once written');
  const written = inode();
  clock.advance(1000);
  notifyFifodir(join(dir, 'event'), 'dDu');
  await heard(3);
  t.equal(readRestarts(dir), 1, 'a restart within the interval waits');
  t.equal(inode(), written, 'the file was not replaced');
  t.equal(clock.pending, 1, 'one timer, while a count waits');
  clock.advance(1000);
  notifyFifodir(join(dir, 'event'), 'dDu');
  await heard(4);
  t.equal(clock.pending, 1, 'still one timer for any number of restarts');
  clock.advance(WRITE_EVERY_MS - 2000);
  t.equal(readRestarts(dir), 3, 'written when the interval is over, with every restart since');
  t.equal(clock.pending, 0, 'and no timer left: idle costs nothing');
  clock.advance(100);
  notifyFifodir(join(dir, 'event'), 'dDu');
  await heard(5);
  t.equal(readRestarts(dir), 3, 'one more waits');
  counter.close();
  t.equal(readRestarts(dir), 4, 'and is written at close');
  t.equal(clock.pending, 0, 'no timer after close');
  t.same(warnings, []);
});

t.test('told in-process (a shared host): counts without a FIFO of its own in event/', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'supervise'));
  makeFifodir(join(dir, 'event'));
  const clock = new FakeClock();
  const warnings: string[] = [];
  const counter = RestartCounter.open(() => dir, (m) => warnings.push(m), clock, { listen: false })!;
  t.same(readdirSync(join(dir, 'event')), [], 'no listener of its own in the fifodir');
  counter.heard('su');
  t.equal(readRestarts(dir), 0, 'the first start: 0, written at once');
  clock.advance(WRITE_EVERY_MS);
  counter.heard('dDuU');
  t.equal(readRestarts(dir), 1, 'a restart after a quiet interval: written at once');
  counter.heard('dDu');
  t.equal(counter.startsHeard, 3, 'heard at once, in the same turn');
  t.equal(clock.pending, 1, 'a restart within the interval waits on one timer');
  counter.close();
  t.equal(readRestarts(dir), 2, 'written at close');
  counter.heard('dDu');
  t.equal(counter.startsHeard, 3, 'nothing heard after close');
  t.equal(clock.pending, 0, 'and no timer');
  t.same(warnings, []);
});
