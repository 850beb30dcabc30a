// A service whose run is a python3 sd_notify client driven by the test: each
// line written to the service's `cmd` FIFO is a command, so the datagrams come
// from run itself (the main process) in a known order.
import { closeSync, constants, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makeService, type Teardown } from '../lib/harness';
import { startSupervisor, TETHER_SUPERVISE, waitForContent, waitForPath, type Running } from '../supervise/lib';
import { mkfifo } from '../../src/os/native';

export const PYTHON = '/usr/bin/python3';
export const SYSTEMD_NOTIFY = '/usr/bin/systemd-notify';
export const HAVE_PYTHON = existsSync(PYTHON);

/**
 * run: records its environment in `env`, then for each line of `cmd`:
 *   send HEX         one datagram with that payload (hex, so NULs and newlines pass)
 *   fds N HEX        the same with N pipe fds attached (SCM_RIGHTS)
 *   barrier          sd_notify_barrier(): BARRIER=1 with a pipe's write end, then wait for
 *                    its hang-up (bounded); writes "barrier ok" or "barrier timeout" to `log`
 *   ping N MS        WATCHDOG=1 N times, MS apart, logging "pinged" after each
 *   reload           RELOADING=1 with MONOTONIC_USEC= now (CLOCK_MONOTONIC)
 * SIGHUP appends "hup" to `log`.
 * Each handled command appends "done K" to `log` (K counts from 1).
 */
export const RELAY = `#!${PYTHON}
import array, os, select, signal, socket, sys, time
addr = os.environ.get('NOTIFY_SOCKET', '')
if addr.startswith('@'):
    addr = '\\0' + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
cmd = os.open('cmd', os.O_RDWR)
with open('env.new', 'w') as f:
    for k in ('NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'):
        f.write('%s=%s\\n' % (k, os.environ.get(k, '')))
    f.write('PID=%d\\n' % os.getpid())
os.rename('env.new', 'env')
log = open('log', 'a', buffering=1)
signal.signal(signal.SIGHUP, lambda *_: log.write('hup\\n'))
def send(payload, fds=()):
    s.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))] if fds else [], 0, addr)
buf = b''
n = 0
while True:
    chunk = os.read(cmd, 65536)
    buf += chunk
    while b'\\n' in buf:
        line, buf = buf.split(b'\\n', 1)
        w = line.decode().split()
        if w[0] == 'send':
            send(bytes.fromhex(w[1]) if len(w) > 1 else b'')
        elif w[0] == 'fds':
            pipes = [os.pipe() for _ in range(int(w[1]))]
            send(bytes.fromhex(w[2]), [p[1] for p in pipes])
            for p in pipes:
                os.close(p[0]); os.close(p[1])
        elif w[0] == 'barrier':
            r, wr = os.pipe()
            send(b'BARRIER=1', [wr])
            os.close(wr)
            p = select.poll(); p.register(r, select.POLLHUP)
            log.write('barrier ok\\n' if p.poll(20000) else 'barrier timeout\\n')
            os.close(r)
        elif w[0] == 'reload':
            send(b'RELOADING=1\\nMONOTONIC_USEC=%d' % (time.monotonic_ns() // 1000))
        elif w[0] == 'ping':
            for i in range(int(w[1])):
                send(b'WATCHDOG=1')
                log.write('pinged\\n')
                time.sleep(int(w[2]) / 1000)
        n += 1
        log.write('done %d\\n' % n)
`;

export interface RelayService {
  dir: string;
  sup: Running;
  /** Sends a command line and waits until run has handled it. */
  command(line: string): Promise<void>;
  /** Sends `payload` from run (the main process). */
  send(payload: string | Buffer): Promise<void>;
  env(): Record<string, string>;
  notifyStatus(): Record<string, unknown>;
}

export function hex(payload: string | Buffer): string {
  return (Buffer.isBuffer(payload) ? payload : Buffer.from(payload)).toString('hex');
}

/** The service directory, its FIFO, a supervisor on it, and run started and listening. */
export async function relayService(t: Teardown, dir: string, files: Record<string, string> = {}): Promise<RelayService> {
  makeService(dir, RELAY, { 'notify-socket': '', ...files });
  mkfifo(join(dir, 'cmd'), 0o600);
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForPath(join(dir, 'env'));
  let commands = 0;
  const command = async (line: string) => {
    const n = ++commands;
    const fd = openSync(join(dir, 'cmd'), constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
    await waitForContent(join(dir, 'log'), new RegExp(`^done ${n}$`, 'm'));
  };
  return {
    dir,
    sup,
    command,
    send: (payload) => command(`send ${hex(payload)}`),
    env: () => Object.fromEntries(readFileSync(join(dir, 'env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])),
    notifyStatus: () => JSON.parse(readFileSync(join(dir, 'supervise', 'notify-status'), 'utf8')),
  };
}

/**
 * A one-shot sd_notify client for run scripts, as `notify.py PAYLOAD...`
 * (`\n` in a payload is a newline). It ends with sd_notify_barrier(): it
 * stays alive until its datagrams were handled, which notify-access exec
 * needs to find it in /proc (the race systemd documents for NotifyAccess=).
 */
export const NOTIFY_PY = `import array, os, select, socket, sys
a = os.environ['NOTIFY_SOCKET']
a = '\\0' + a[1:] if a.startswith('@') else a
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for p in sys.argv[1:]:
    s.sendto(p.replace('\\\\n', '\\n').encode(), a)
r, w = os.pipe()
s.sendmsg([b'BARRIER=1'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [w]))], 0, a)
os.close(w)
p = select.poll()
p.register(r, select.POLLHUP)
sys.exit(0 if p.poll(20000) else 1)
`;
