// bin/tether.js as a command (its shell line, as users and the Dockerfile run
// it) starts svscan's node with V8's memory reducer off: a shared scanner's
// heap is big enough for the reducer to wake it every 8 s after start-up,
// and only node's command line can turn that off (bin/tether.js says more).
// Other commands keep V8's defaults. Read from /proc/PID/cmdline.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TETHER, makeService, stopSupervisor, tempDir, waitForFile } from '../lib/harness';
import { startScanner } from './lib';

const FLAG = '--no-memory-reducer';

function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
}

for (const mode of [[], ['--shared']]) {
  t.test(`tether svscan${mode.map((a) => ` ${a}`).join('')} as a command: node runs with ${FLAG}`, async (t) => {
    const scandir = join(tempDir(t), 'scan');
    makeService(join(scandir, 'a'), 'exec sleep 100000');
    const sc = await startScanner(t, scandir, { prefix: [TETHER], args: mode });
    const argv = argvOf(sc.pid);
    t.equal(argv[0], 'node', 'the shell line exec\'d node in its place (same pid)');
    t.ok(argv.includes(FLAG), `with ${FLAG}`);
    t.ok(argv.indexOf(FLAG) < argv.findIndex((a) => a.endsWith('tether.js')), 'as a node option, before the script');
    t.same((await sc.stop()).code, 0, 'svscanctl -t: the tree stops, svscan exits 0');
  });
}

t.test(`tether supervise as a command: V8's defaults (no ${FLAG})`, async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), 'exec sleep 100000');
  const child = spawn(TETHER, ['supervise', dir], { stdio: 'ignore' });
  t.teardown(() => stopSupervisor(child, dir));
  // Written by the supervisor itself: the shell line has exec'd node by then.
  await waitForFile(join(dir, 'supervise', 'status'));
  const argv = argvOf(child.pid as number);
  t.equal(argv[0], 'node', 'node, exec\'d by the shell line');
  t.notOk(argv.includes(FLAG), `no ${FLAG}`);
});
