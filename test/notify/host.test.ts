// Two notify services in one shared host (`tether svscan --shared`): one
// SIGIO serves every socket, so a flood on one must not starve the other.
// No timing is asserted; the delay figure is in the bench (scripts/bench/notify.mjs).
import t from 'tap';
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BOUND_MS, makeService, tempDir } from '../lib/harness';
import { readStatus } from '../../src/wire/status';
import { startScanner } from '../scan/lib';
import { waitForContent, waitForPath, waitForStatus } from '../supervise/lib';
import { mkfifo } from '../../src/os/native';
import { HAVE_PYTHON, PYTHON } from './lib';

const skip = HAVE_PYTHON ? false : `${PYTHON} is not installed`;

const SOCKET = `import os, socket
a = os.environ['NOTIFY_SOCKET']
a = '\\0' + a[1:] if a.startswith('@') else a
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
`;

/** Ready at once, then STATUS=flood N without end (blocking sends: as fast as the host reads). */
const FLOODER = `#!${PYTHON}
${SOCKET}s.sendto(b'READY=1', a)
n = 0
while True:
    n += 1
    s.sendto(b'STATUS=flood %d' % n, a)
    if n == 1000:
        open('flooding', 'w').close()
`;

/** Sends READY=1 when a byte arrives on its `go` FIFO (a restarted one waits for the next byte). */
const WAITER = `#!${PYTHON}
import time
${SOCKET}os.read(os.open('go', os.O_RDWR), 1)
s.sendto(b'STATUS=waited\\nREADY=1', a)
time.sleep(1000)
`;

const floodCount = (dir: string): number => {
  const m = /"status":"flood (\d+)"/.exec(readFileSync(join(dir, 'supervise', 'notify-status'), 'utf8'));
  return m ? Number(m[1]) : 0;
};

t.test('shared host: both services become ready; a flood on one does not hold back the other\'s READY=1', { skip }, async (t) => {
  const scandir = tempDir(t);
  const flooder = makeService(join(scandir, 'flooder'), FLOODER, { 'notify-socket': '' });
  const waiter = makeService(join(scandir, 'waiter'), WAITER, { 'notify-socket': '' });
  mkfifo(join(waiter, 'go'), 0o600);
  await startScanner(t, scandir, { args: ['--shared'] });
  await waitForStatus(flooder, (s) => s.pid > 0 && s.ready, 'the flooder ready');
  // Each flood datagram is a notify-status write: on a loaded machine a thousand take a while.
  await waitForPath(join(flooder, 'flooding'), 4 * BOUND_MS);
  await waitForContent(join(flooder, 'supervise', 'notify-status'), /"status":"flood \d+"/);
  t.notOk(readStatus(waiter).ready, 'the waiter is not ready before its READY=1');
  const go = openSync(join(waiter, 'go'), constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(go, 'g');
  } finally {
    closeSync(go);
  }
  await waitForStatus(waiter, (s) => s.pid > 0 && s.ready, 'the waiter ready while the flood goes on');
  t.match(readFileSync(join(waiter, 'supervise', 'notify-status'), 'utf8'), /"status":"waited"/, 'its STATUS= came with it');
  // The flood is endless: the host still reads it after serving the waiter (fair both ways).
  const seen = floodCount(flooder);
  t.ok(seen >= 1000 - 100, `a thousand flood datagrams and more handled (${seen})`);
  await waitForContent(join(flooder, 'supervise', 'notify-status'), new RegExp(`"status":"flood (?!${seen}")\\d+"`));
  t.ok(floodCount(flooder) > seen, 'the flooder\'s datagrams are still being handled');
  // Every SIGIO costs libuv a message in its signal pipe, and a full pipe drops signals: a
  // SIGCHLD lost that way left a dead run unreaped, never restarted. Deaths during the flood:
  for (let i = 1; i <= 8; i++) {
    const { pid } = readStatus(waiter);
    process.kill(pid, 'SIGKILL');
    await waitForStatus(waiter, (s) => s.pid > 0 && s.pid !== pid, `run restarted after death ${i} during the flood`);
  }
  t.pass('the host saw every death of the other service\'s run during the flood, and restarted it');
});
