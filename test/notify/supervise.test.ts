// NOTIFY_SOCKET under tether supervise, end to end: systemd's test vectors
// sent by run itself (python3's socket module) and by Debian's systemd-notify,
// the access rules against a foreign sender, s6-svwait -U and tether svwait -U
// on a systemd-style READY=1, BARRIER=1 and fd hygiene.
import t from 'tap';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BOUND_MS, HAVE_S6, S6_BIN, makeService, run, tempDir, tether } from '../lib/harness';
import { readStatus } from '../../src/wire/status';
import { startSupervisor, TETHER_SUPERVISE, waitForContent, waitForStatus } from '../supervise/lib';
import { HAVE_PYTHON, NOTIFY_PY, PYTHON, SYSTEMD_NOTIFY, hex, relayService } from './lib';

const skip = HAVE_PYTHON ? false : `${PYTHON} is not installed`;

/** A foreign process (this test's python, not the service's) sends `payload` to the service's socket. */
function foreignSend(dir: string, payload: string) {
  return run(PYTHON, ['-c', `import socket,sys; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.sendto(bytes.fromhex(sys.argv[2]), sys.argv[1])`,
    join(dir, 'supervise', 'notify'), hex(payload)]);
}

/** Sends a STATUS marker from run and waits for it: every datagram before it has been handled. */
async function settled(svc: Awaited<ReturnType<typeof relayService>>, marker: string) {
  await svc.send(`STATUS=${marker}`);
  await waitForContent(join(svc.dir, 'supervise', 'notify-status'), new RegExp(`"status":"${marker}"`));
}

t.test('the socket and run\'s environment', { skip }, async (t) => {
  const svc = await relayService(t, join(tempDir(t), 'svc'));
  const sock = join(svc.dir, 'supervise', 'notify');
  t.ok(lstatSync(sock).isSocket(), 'supervise/notify is a socket');
  t.equal(lstatSync(sock).mode & 0o777, 0o600, 'mode 0600');
  const env = svc.env();
  // The directory as the supervisor names it: in shared mode, through the scan directory's link.
  t.equal(env.NOTIFY_SOCKET, join(svc.sup.shown, 'supervise', 'notify'));
  t.ok(lstatSync(env.NOTIFY_SOCKET).ino === lstatSync(sock).ino, 'the same socket');
  t.equal(env.WATCHDOG_USEC, '', 'no watchdog-usec, no WATCHDOG_USEC');
  t.notOk(readStatus(svc.dir).ready, 'not ready before READY=1');
});

t.test('systemd\'s vectors from run: READY=1 without newline, with, and after STATUS=', { skip }, async (t) => {
  for (const [name, payload, status] of [
    ['READY=1', 'READY=1', undefined],
    ['READY=1\\n', 'READY=1\n', undefined],
    ['STATUS=x\\nREADY=1', 'STATUS=x\nREADY=1', 'x'],
  ] as const) {
    const svc = await relayService(t, join(tempDir(t), 'svc'));
    await svc.send(payload);
    await waitForStatus(svc.dir, (s) => s.ready, `ready after ${name}`);
    t.pass(`${name} makes the service ready`);
    if (status) t.equal(svc.notifyStatus().status, status, 'STATUS= is kept');
  }
});

t.test('a 5000-byte datagram and RE\\0ADY=1 are dropped whole', { skip }, async (t) => {
  const svc = await relayService(t, join(tempDir(t), 'svc'));
  await svc.send(Buffer.concat([Buffer.from('READY=1\nSTATUS=big\n'), Buffer.alloc(5000 - 19, 0x41)]));
  await svc.send(Buffer.from('RE\0ADY=1'));
  await svc.send(Buffer.from('STATUS=nul\0\nREADY=1'));
  await settled(svc, 'after');
  t.notOk(readStatus(svc.dir).ready, 'none of them made the service ready');
  await svc.sup.waitForStderr(/dropped a notification from pid \d+: too long/);
  await svc.sup.waitForStderr(/dropped a notification from pid \d+: embedded NUL/);
  await svc.send('READY=1');
  await waitForStatus(svc.dir, (s) => s.ready, 'ready after a good READY=1');
  t.pass('the next good datagram is handled');
});

t.test('notify-access: a foreign sender is refused under main and exec, accepted under all', { skip }, async (t) => {
  for (const access of ['main', 'exec']) {
    const svc = await relayService(t, join(tempDir(t), 'svc'), { 'notify-access': `${access}\n` });
    t.equal((await foreignSend(svc.dir, 'READY=1\nSTATUS=foreign')).code, 0);
    await settled(svc, 'mine');
    t.notOk(readStatus(svc.dir).ready, `${access}: the foreign READY=1 was ignored`);
    await svc.sup.waitForStderr(/ignoring notification from pid \d+: notify-access is /);
    t.equal((await foreignSend(svc.dir, 'READY=1')).code, 0);
    await settled(svc, 'again');
    const refusals = svc.sup.stderr().split('\n').filter((l) => l.includes('ignoring notification')).length;
    t.equal(refusals, 1, 'reported once');
  }
  const svc = await relayService(t, join(tempDir(t), 'svc'), { 'notify-access': 'all\n' });
  await foreignSend(svc.dir, 'STATUS=foreign\nREADY=1');
  await waitForStatus(svc.dir, (s) => s.ready, 'ready from a foreign sender under all');
  t.equal(svc.notifyStatus().status, 'foreign');
});

t.test('notify-access exec: a child of run is accepted, a foreign process is not', { skip }, async (t) => {
  const dir = join(tempDir(t), 'svc');
  makeService(dir, `#!/bin/sh\n${PYTHON} notify.py 'READY=1\\nSTATUS=child'\nexec sleep 1000\n`, {
    'notify-socket': '', 'notify-access': 'exec\n', 'notify.py': NOTIFY_PY,
  });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForStatus(dir, (s) => s.pid > 0 && s.ready, 'ready from run\'s child');
  t.match(readFileSync(join(dir, 'supervise', 'notify-status'), 'utf8'), /"status":"child"/);
});

t.test('s6-svwait -U and tether svwait -U return on READY=1 sent the systemd way', { skip }, async (t) => {
  const svc = await relayService(t, join(tempDir(t), 'svc'));
  const waits = [tether(['svwait', '-U', '-t', String(BOUND_MS), svc.dir])];
  if (HAVE_S6) waits.push(run(join(S6_BIN, 's6-svwait'), ['-U', '-t', String(BOUND_MS), svc.dir]));
  await svc.send('READY=1');
  for (const w of await Promise.all(waits)) t.equal(w.code, 0, 'returned ready');
  const s6 = await run(join(S6_BIN, 's6-svstat'), [svc.dir]);
  t.match(s6.stdout, /^up \(pid \d+\) \d+ seconds, ready \d+ seconds/, 's6-svstat says ready');
});

t.test('Debian\'s systemd-notify --ready from a run script', { skip: existsSync(SYSTEMD_NOTIFY) ? false : `${SYSTEMD_NOTIFY} is not installed` }, async (t) => {
  const dir = join(tempDir(t), 'svc');
  // systemd-notify sends on behalf of its parent (run: the main process), then a barrier it waits on.
  makeService(dir, `#!/bin/sh\n${SYSTEMD_NOTIFY} --ready --status="from systemd-notify"\necho "rc=$?" > notify-rc\nexec sleep 1000\n`, { 'notify-socket': '' });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForStatus(dir, (s) => s.pid > 0 && s.ready, 'ready from systemd-notify');
  await waitForContent(join(dir, 'notify-rc'), /rc=0/);
  t.pass('systemd-notify returned 0: its barrier was answered');
  t.match(readFileSync(join(dir, 'supervise', 'notify-status'), 'utf8'), /"status":"from systemd-notify"/);
});

t.test('BARRIER=1 returns promptly; fds that come along are closed, none leak', { skip }, async (t) => {
  const svc = await relayService(t, join(tempDir(t), 'svc'));
  // Every fd the supervisor holds, by what it points to: received fds are pipe ends (the relay sends pipes).
  const fds = () => readdirSync(`/proc/${svc.sup.child.pid}/fd`).map((f) => {
    try {
      return readlinkSync(`/proc/${svc.sup.child.pid}/fd/${f}`);
    } catch {
      return ''; // closed meanwhile
    }
  });
  await settled(svc, 'start');
  const before = fds();
  await svc.command('barrier');
  t.match(readFileSync(join(svc.dir, 'log'), 'utf8'), /^barrier ok$/m, 'the barrier fd was closed');
  for (let i = 0; i < 20; i++) await svc.command(`fds 3 ${hex(`STATUS=with fds ${i}`)}`);
  // tether keeps no fd store: what comes with FDSTORE=1 is closed the same way.
  for (let i = 0; i < 20; i++) await svc.command(`fds 3 ${hex(`FDSTORE=1\nFDNAME=store${i}`)}`);
  await svc.command(`fds 1 ${hex(Buffer.from('RE\0ADY=1'))}`);
  await svc.command('barrier');
  await settled(svc, 'end');
  // Pipes only: the supervisor's own files come and go (a replaced status inode awaits its close); received fds are pipe ends.
  const pipes = (list: string[]) => list.filter((l) => l.startsWith('pipe:'));
  const after = fds();
  t.equal(pipes(after).length, pipes(before).length, `as many pipe fds in /proc/${svc.sup.child.pid}/fd after 121 received fds as before`);
  const newPipes = pipes(after).filter((l) => !before.includes(l));
  t.same(newPipes, [], `no received fd kept: no pipe the supervisor did not hold before (${before.length} fds then)`);
  await svc.sup.waitForStderr(/FDSTORE=1 from pid \d+: tether keeps no fd store/);
});

t.test('notify-socket naming the service\'s user: an abstract socket that user may send to', { skip: skip || (process.getuid!() !== 0 ? 'needs root to change user' : false) }, async (t) => {
  const dir = join(tempDir(t), 'svc');
  // run drops to nobody before it notifies, as a daemon started by s6-setuidgid does.
  makeService(dir, `#!/bin/sh\nexec ${join(S6_BIN, 's6-setuidgid')} nobody ${PYTHON} -c 'import os,socket,time; a=os.environ["NOTIFY_SOCKET"]; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.sendto(b"READY=1\\nSTATUS=as %d" % os.getuid(), "\\0"+a[1:]); time.sleep(1000)'\n`, {
    'notify-socket': 'nobody\n',
  });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForStatus(dir, (s) => s.pid > 0 && s.ready, 'ready from the unprivileged main process');
  t.match(readFileSync(join(dir, 'supervise', 'notify-status'), 'utf8'), /"status":"as 65534"/);
  t.notOk(existsSync(join(dir, 'supervise', 'notify')), 'no path socket');
});

t.test('RELOADING=1 after svc -h marks the service reloading until READY=1; a stale one is ignored', { skip }, async (t) => {
  const svc = await relayService(t, join(tempDir(t), 'svc'));
  await svc.send('READY=1');
  await waitForStatus(svc.dir, (s) => s.ready, 'ready');
  t.equal((await run(join(S6_BIN, 's6-svc'), ['-h', svc.dir])).code, 0);
  await waitForContent(join(svc.dir, 'log'), /^hup$/m);
  await svc.send('RELOADING=1\nMONOTONIC_USEC=1');
  await settled(svc, 'stale');
  t.notOk(svc.notifyStatus().reloading, 'MONOTONIC_USEC older than the request: an earlier reload, ignored');
  await svc.command('reload');
  await settled(svc, 'reloading');
  t.equal(svc.notifyStatus().reloading, true, 'reloading');
  await svc.send('READY=1');
  await settled(svc, 'reloaded');
  t.notOk(svc.notifyStatus().reloading, 'READY=1 ends the reload');
  t.ok(readStatus(svc.dir).ready, 'still ready throughout');
});
