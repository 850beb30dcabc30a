// The native socket and its SIGIO wakeup in this process: abstract
// autobinding, credentials, and a storm of datagrams that must not disturb
// the rest of the process's I/O (fs, child processes, a FIFO read by libuv).
import t from 'tap';
import { execFile } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { DatagramSocket, type Datagram } from '../../src/os/socket';
import { mkfifo } from '../../src/os/native';
import { BATCH, watchSocket, unwatchSocket } from '../../src/notify/wakeup';
import { BOUND_MS, bounded, makeService, run, startProcess, tempDir } from '../lib/harness';
import { readStatus } from '../../src/wire/status';
import { startSupervisor, TETHER_SUPERVISE, waitForStatus } from '../supervise/lib';
import { HAVE_PYTHON, PYTHON } from './lib';

const skip = HAVE_PYTHON ? false : `${PYTHON} is not installed`;
// A signal listener does not keep the loop alive; these tests wait on SIGIO.
const keepAlive = setInterval(() => {}, 60_000);
t.teardown(() => clearInterval(keepAlive));

const SEND = `import socket,sys
a=sys.argv[1]
a='\\0'+a[1:] if a.startswith('@') else a
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])): s.sendto(b'N=%d' % i, a)
`;

function receiveInto(sock: DatagramSocket, got: Datagram[], onEach?: () => void) {
  watchSocket(sock, () => {
    for (let d = sock.receive(); d !== undefined; d = sock.receive()) {
      got.push(d);
      onEach?.();
    }
  });
}

t.test('autobind: an abstract name, reached by clients as @name, with the sender\'s credentials', { skip }, async (t) => {
  const sock = DatagramSocket.bind(undefined);
  t.teardown(() => {
    unwatchSocket(sock);
    sock.close();
  });
  t.match(sock.address, /^@[0-9a-f]{5}$/, 'the kernel\'s 5 hex digits');
  const got: Datagram[] = [];
  const arrived = new Promise<void>((res) => receiveInto(sock, got, res));
  const sender = startProcess(t, PYTHON, ['-c', `${SEND}\nimport time; time.sleep(30)`, sock.address, '1']);
  await bounded(arrived, BOUND_MS, 'the datagram');
  t.equal(got[0].payload.toString(), 'N=0');
  t.equal(got[0].cred?.pid, sender.pid, 'SCM_CREDENTIALS names the sending process');
  t.equal(got[0].cred?.uid, process.getuid!());
});

t.test('a storm of SIGIO leaves fs, child processes and a FIFO read by libuv undisturbed', { skip }, async (t) => {
  const dir = tempDir(t);
  const sock = DatagramSocket.bind(join(dir, 'sock'));
  t.teardown(() => {
    unwatchSocket(sock);
    sock.close();
  });
  const N = 20_000;
  const got: Datagram[] = [];
  const all = new Promise<void>((res) => receiveInto(sock, got, () => got.length === N && res()));
  // A FIFO read through libuv (as the control FIFO is), written to throughout the storm.
  const fifo = join(dir, 'fifo');
  mkfifo(fifo, 0o600);
  const reader = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
  let fifoBytes = 0;
  reader.on('data', (c: Buffer) => { fifoBytes += c.length; });
  const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  t.teardown(() => {
    reader.destroy();
    closeSync(writer);
  });
  const storm = run(PYTHON, ['-c', SEND, join(dir, 'sock'), String(N)]);
  const errors: unknown[] = [];
  let rounds = 0;
  let done = false;
  void storm.then(() => { done = true; });
  mkdirSync(join(dir, 'files'));
  while (!done || rounds < 20) {
    rounds++;
    try {
      writeSync(writer, 'x');
      await readFile('/proc/self/status');
      readFileSync('/proc/self/stat');
      await new Promise<void>((res, rej) => execFile('/bin/true', (err) => (err ? rej(err) : res())));
    } catch (err) {
      errors.push(err);
    }
  }
  t.equal((await storm).code, 0, 'the sender sent them all');
  await bounded(all, BOUND_MS, `${N} datagrams`);
  t.equal(got.length, N, 'every datagram was received');
  t.same(got.slice(0, 3).map((d) => d.payload.toString()), ['N=0', 'N=1', 'N=2'], 'in order');
  t.same(errors, [], `no I/O failed in ${rounds} rounds of fs, exec and FIFO writes`);
  if (fifoBytes < rounds) {
    await bounded(new Promise<void>((res) => reader.on('data', () => fifoBytes >= rounds && res())), BOUND_MS, 'the FIFO bytes');
  }
  t.equal(fifoBytes, rounds, 'the FIFO reader saw every byte');
});

t.test('a service directory too deep for sun_path gets an abstract NOTIFY_SOCKET', { skip }, async (t) => {
  // The name itself is long: in shared mode the supervisor reaches it through a link of that name in a short scan directory.
  const dir = join(tempDir(t), 'd'.repeat(60), 'e'.repeat(60), `svc-${'s'.repeat(110)}`);
  makeService(dir, `#!/bin/sh\necho "$NOTIFY_SOCKET" > sockname\n${PYTHON} -c 'import os,socket; a=os.environ["NOTIFY_SOCKET"]; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.sendto(b"READY=1", "\\0"+a[1:] if a[0] == "@" else a)'\nexec sleep 1000\n`, {
    'notify-socket': '', 'notify-access': 'all\n',
  });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForStatus(dir, (s) => s.pid > 0 && s.ready, 'ready through the abstract socket');
  t.match(readFileSync(join(dir, 'sockname'), 'utf8'), /^@[0-9a-f]{5}\n$/);
  t.ok(readStatus(dir).ready);
});

t.test('a socket that never runs dry starves neither another socket nor the event loop', { skip }, async (t) => {
  const dir = tempDir(t);
  const flooded = DatagramSocket.bind(join(dir, 'flooded'));
  const other = DatagramSocket.bind(join(dir, 'other'));
  let rounds = 0;
  const budgets = new Set<number>();
  // One datagram that stays queued, and a drain that never reads it and stops at its budget
  // every time: a queue refilled as fast as it is read (readable for poll, no EAGAIN, ever).
  t.equal((await run(PYTHON, ['-c', SEND, join(dir, 'flooded'), '1'])).code, 0, 'queued');
  watchSocket(flooded, (budget) => {
    rounds++;
    budgets.add(budget);
    return true;
  });
  t.teardown(() => {
    for (const s of [flooded, other]) {
      unwatchSocket(s);
      s.close();
    }
  });
  const got: Datagram[] = [];
  const arrived = new Promise<void>((res) => receiveInto(other, got, res));
  const timer = new Promise<void>((res) => setTimeout(res, 10));
  t.equal((await run(PYTHON, ['-c', SEND, join(dir, 'other'), '1'])).code, 0, 'sent');
  await bounded(arrived, BOUND_MS, 'the other socket\'s datagram');
  t.equal(got[0].payload.toString(), 'N=0', 'the other socket was read during the flood');
  await bounded(timer, BOUND_MS, 'a timer during the flood');
  const seen = rounds;
  await new Promise<void>((res) => setImmediate(() => setImmediate(res)));
  t.ok(rounds > seen && seen > 1, `the flooded socket keeps its turns (${rounds} rounds)`);
  t.same([...budgets], [BATCH], 'a batch at a time');
});
