// The `pidfile` service-directory file: tether supervise adopts a daemon that
// backgrounds itself (it is a child subreaper, so the daemon becomes its
// child), and cleans up what a dead instance left behind. Debian's s6 2.11
// has neither, so these cases are tether's alone; s6's clients still check.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { childrenOf, procStat } from '../../src/os/proc';
import { mkfifo } from '../../src/os/native';
import { writeControl } from '../../src/wire/control';
import { readDeathTally } from '../../src/wire/deathtally';
import { alive, exitOf, makeService, run, startProcess, tempDir, zombiesLeft } from '../lib/harness';
import { TETHER_SUPERVISE, WARNING, s6, startSupervisor, statusPid, svc, svstat, waitForContent, waitForProc, waitForStatus } from './lib';

const T = ['-T', '30000'];

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

function httpStatus(port: number): Promise<number> {
  return new Promise((res, rej) => {
    get({ host: '127.0.0.1', port, path: '/', timeout: 10_000 }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    }).on('error', rej);
  });
}

/** Kills `pids` at teardown, whatever the test left running. */
function killAtTeardown(t: Test, pids: () => number[]): void {
  t.teardown(() => {
    for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
}

function nginxPids(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1').includes(marker) && alive(Number(name))) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

const NGINX_ROUNDS = 10;

/** svc -h (nginx replaces its workers), then kill -9 of the master: the old workers must go, and the new nginx must get the port. */
async function reloadThenKillMaster(t: Test, dir: string, port: number, master: number, supervisor: number, round: number): Promise<number> {
  const before = childrenOf(master);
  t.equal(before.length, 2, `round ${round}: two workers`);
  t.equal((await svc(dir, '-h')).code, 0, `round ${round}: svc -h`);
  await waitForProc(() => {
    const now = childrenOf(master).filter((p) => procStat(p)?.state !== 'Z');
    return now.length === 2 && now.every((p) => !before.includes(p));
  }, 'nginx to replace its workers after SIGHUP');
  t.equal(statusPid(dir), master, `round ${round}: reloaded, same master`);
  const workers = childrenOf(master);
  t.equal((await s6('s6-svlisten1', '-R', '-t', '30000', dir, 'kill', '-9', String(master))).code, 0, `round ${round}: kill -9 of the master: restarted and ready`);
  const master2 = statusPid(dir);
  t.not(master2, master);
  t.same(workers.filter((p) => procStat(p) !== null), [], `round ${round}: the old workers were cleaned up and reaped`);
  t.equal(await httpStatus(port), 200, `round ${round}: the new nginx has the port`);
  t.same(await zombiesLeft(supervisor), [], `round ${round}: no zombie`);
  return master2;
}

t.test("Debian's nginx, self-daemonizing, supervised through its pid file", async (t) => {
  const port = await freePort();
  const dir = join(tempDir(t), 'nginx');
  makeService(dir, '#!/bin/sh\nexec /usr/sbin/nginx -e "$PWD/error.log" -p "$PWD" -c "$PWD/nginx.conf"', {
    pidfile: 'nginx.pid\n',
    'notification-fd': '3\n',
    'nginx.conf': `daemon on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
worker_processes 2;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp;
  server { listen 127.0.0.1:${port}; location / { return 200 "ok\\n"; } }
}
`,
  });
  killAtTeardown(t, () => nginxPids(`${dir}/nginx.conf`));
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  t.equal((await s6('s6-svwait', '-U', '-t', '30000', dir)).code, 0, 'ready once the pid is adopted');
  const master = statusPid(dir);
  t.equal(readFileSync(join(dir, 'nginx.pid'), 'latin1'), `${master}\n`, 'status shows the master from the pid file');
  t.equal(procStat(master)?.ppid, sup.child.pid, 'the master is the supervisor\'s child');
  t.equal(await httpStatus(port), 200, 'nginx answers');

  // Several rounds: the old workers' fate after kill -9 of their master once
  // depended on a race (shared mode left them 1 round in 4).
  let current = master;
  for (let round = 1; round <= NGINX_ROUNDS; round++) {
    current = await reloadThenKillMaster(t, dir, port, current, sup.child.pid!, round);
  }
  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0, 'svc -d');
  t.same(nginxPids(`${dir}/nginx.conf`), [], 'no nginx process left');
  t.same(await zombiesLeft(sup.child.pid!), [], 'no zombie');
  t.equal((await svstat(dir, '-o', 'up,exitcode')).stdout, 'false 0\n', 'nginx exits 0 on SIGTERM');
});

const DOUBLE_FORK = `#!/usr/bin/env python3
import os, signal, sys
r = os.fork()
if r == 0:
    os.setsid()
    d = os.fork()
    if d == 0:
        def hup(*_):
            with open('hups', 'a') as f:
                f.write('HUP\\n')
        signal.signal(signal.SIGHUP, hup)
        with open('daemon.log', 'a') as f:
            f.write(f'{os.getpid()}\\n')
        while True:
            signal.pause()
    with open('app.pid.new', 'w') as f:
        f.write(f'{d}\\n')
    os.rename('app.pid.new', 'app.pid')
    os._exit(0)
os.waitpid(r, 0)
sys.exit(0)
`;

t.test('a double-forking daemon (fork, setsid, fork) is adopted and signalled', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), DOUBLE_FORK, { pidfile: 'app.pid\n', 'notification-fd': '3\n' });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  killAtTeardown(t, () => readFileSync(join(dir, 'daemon.log'), 'latin1').split('\n').filter(Boolean).map(Number));
  t.equal((await s6('s6-svwait', '-U', '-t', '30000', dir)).code, 0);
  const daemon = statusPid(dir);
  // The middle process writes the pid file as soon as it has forked: the daemon may not have run yet.
  t.equal(await waitForContent(join(dir, 'daemon.log'), /\n/), `${daemon}\n`, 'status shows the grandchild');
  t.equal(procStat(daemon)?.ppid, sup.child.pid);
  t.match((await svstat(dir)).stdout, new RegExp(`^up \\(pid ${daemon}\\) \\d+ seconds, ready \\d+ seconds\\n$`));
  await svc(dir, '-h');
  await waitForContent(join(dir, 'hups'), /^HUP\n$/);
  writeControl(join(dir, 'supervise'), 'P');
  await waitForStatus(dir, (st) => st.paused, 'paused');
  await waitForProc(() => procStat(daemon)?.state === 'T', 'the daemon to stop');
  t.pass('P stops the daemon\'s group, though the daemon does not lead it');
  writeControl(join(dir, 'supervise'), 'C');
  await waitForStatus(dir, (st) => !st.paused, 'resumed');
  await waitForProc(() => procStat(daemon)?.state === 'S', 'the daemon to resume');
  t.equal((await s6('s6-svlisten1', '-R', '-t', '30000', dir, 's6-svc', '-t', dir)).code, 0, 'svc -t: dies and is restarted');
  t.notOk(alive(daemon), 'the old daemon is gone');
  t.not(statusPid(dir), daemon);
  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0);
  t.equal((await svstat(dir, '-o', 'signal')).stdout, 'SIGTERM\n', 'the daemon\'s own wait status was recorded');
  t.same(await zombiesLeft(sup.child.pid!), []);
});

t.test('a pid file written late is waited for (fs watch, no polling)', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'),
    'sh -c \'read x < gate; echo $$ > app.pid.new; mv app.pid.new app.pid; exec sleep 100000\' &\necho $$ > parent\nexit 0',
    // The parent waits on the test's gate: give it all the time a loaded machine may need.
    { pidfile: 'app.pid\n', 'notification-fd': '3\n', 'timeout-ready': '60000\n' });
  mkfifo(join(dir, 'gate'), 0o600);
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  const parent = Number((await waitForContent(join(dir, 'parent'), /^\d+\n$/)).trim());
  await waitForProc(() => procStat(parent) === null, 'the parent to exit and be reaped');
  t.equal((await svstat(dir, '-o', 'ready')).stdout, 'false\n', 'not ready while the pid file is missing');
  const waiter = exitOf(spawn('/usr/bin/s6-svwait', ['-U', '-t', '30000', dir], { stdio: 'ignore' }));
  await run('sh', ['-c', 'echo go > gate'], { cwd: dir });
  t.same(await waiter, { code: 0, signal: null }, 'ready once the late pid file appeared');
  const daemon = Number(readFileSync(join(dir, 'app.pid'), 'latin1'));
  killAtTeardown(t, () => [daemon]);
  t.equal(statusPid(dir), daemon);
  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0);
  t.notOk(alive(daemon));
});

t.test('a pid file naming an unrelated live process is refused (exit 104), and the process is left alone', async (t) => {
  const stranger = startProcess(t, 'sleep', ['100000']);
  const dir = makeService(join(tempDir(t), 'svc'), 'cp stranger.pid app.pid\nexit 0', {
    pidfile: 'app.pid\n',
    // Garbage is waited on (it may be half a write) until timeout-ready: keep that short.
    'timeout-ready': '500\n',
    'stranger.pid': `${stranger.pid}\n`,
  });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  const line = await sup.waitForStderr(/app\.pid/);
  t.match(line, new RegExp(`^${WARNING}pid file ${sup.shown}/app.pid names pid ${stranger.pid}, which is not a child of this process \\(a stale file or a reused pid\\): the service failed \\(exit code 104\\)$`));
  await waitForContent(join(dir, 'supervise', 'death_tally'), /^[^]{14}/);
  t.match((await s6('s6-svdt', dir)).stdout, /^@[0-9a-f]{24} exitcode 104\n/);
  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0);
  t.ok(alive(stranger.pid!), 'the stranger was never signalled');

  writeFileSync(join(dir, 'run'), '#!/bin/sh\necho garbage > app.pid\nexit 0\n');
  await svc(dir, '-u');
  t.match(await sup.waitForStderr(/garbage/), /pid file .*app\.pid does not hold a pid and a newline: "garbage\\n": the service failed \(exit code 104\)$/);
  await svc(dir, '-wD', ...T, '-d');
  writeFileSync(join(dir, 'run'), '#!/bin/sh\nexit 3\n');
  await svc(dir, '-u');
  await waitForStatus(dir, (st) => st.wstat === 3 << 8, 'a death with exit code 3');
  t.match((await s6('s6-svdt', dir)).stdout, /exitcode 3\n$/, 'a parent exiting 3 is a death with exit code 3, no adoption');
});

t.test('a parent that never exits is killed after timeout-ready', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'), 'exec sleep 100000', { pidfile: 'app.pid\n', 'timeout-ready': '300\n' });
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  t.match(await sup.waitForStderr(/timeout-ready/), new RegExp(`^${WARNING}(${basename(dir)}: )?run \\(pid \\d+\\) did not exit within timeout-ready: killing it; the start failed$`));
  await waitForContent(join(dir, 'supervise', 'death_tally'), /^[^]{14}/);
  t.match((await s6('s6-svdt', dir)).stdout, /^@[0-9a-f]{24} signal SIGKILL\n/);
  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0);
});

t.test('timeout-ready 0 sets no bound on the parent, as timeout-kill 0 and timeout-finish 0 do', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'),
    'echo $$ > parent\nread x < gate\nsleep 100000 &\necho $! > app.pid\nexit 0',
    { pidfile: 'app.pid\n', 'timeout-ready': '0\n' });
  mkfifo(join(dir, 'gate'), 0o600);
  const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
  const parent = Number((await waitForContent(join(dir, 'parent'), /^\d+\n$/)).trim());
  // The parent waits on the gate for as long as the test takes: only a bound would end it.
  await run('sh', ['-c', 'echo go > gate'], { cwd: dir });
  const daemon = Number((await waitForContent(join(dir, 'app.pid'), /^\d+\n$/)).trim());
  killAtTeardown(t, () => [daemon]);
  await waitForStatus(dir, (st) => st.pid === daemon, 'the daemon to be adopted');
  t.ok(procStat(parent) === null, 'the parent exited on its own and was reaped');
  t.notMatch(sup.stderr(), /timeout-ready/, 'nobody killed the parent');
  t.same(readDeathTally(dir), [], 'no failed start');
  t.equal((await svc(dir, '-wD', ...T, '-d')).code, 0);
  t.notOk(alive(daemon), 'the adopted daemon went down');
});

const PORT_HOLDER = (port: number) => `#!/usr/bin/env python3
import os, signal, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(('127.0.0.1', ${port}))
except OSError as e:
    with open('binds', 'a') as f:
        f.write(f'failed {e.errno}\\n')
    sys.exit(1)
s.listen()
with open('binds', 'a') as f:
    f.write(f'bound {os.getpid()}\\n')
if os.fork() == 0:
    os.setsid()
    with open('children', 'a') as f:
        f.write(f'{os.getpid()}\\n')
    while True:
        signal.pause()
while True:
    signal.pause()
`;

for (const keep of [false, true]) {
  t.test(keep ? 'flag-keep-strays: the child keeps the port, the next instance cannot bind'
    : 'a child left holding the TCP port is cleaned up: the restarted instance binds it', async (t) => {
    const port = await freePort();
    const dir = makeService(join(tempDir(t), 'svc'), PORT_HOLDER(port), keep ? { 'flag-keep-strays': '' } : {});
    const children = () => {
      try {
        return readFileSync(join(dir, 'children'), 'latin1').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    };
    killAtTeardown(t, children);
    const sup = await startSupervisor(t, TETHER_SUPERVISE, dir);
    await waitForContent(join(dir, 'children'), /^\d+\n$/);
    const child = children()[0];
    await svc(dir, '-k');
    if (keep) {
      await waitForContent(join(dir, 'binds'), /failed 98\n/);
      t.ok(alive(child), 'the stray kept running');
      t.equal(procStat(child)?.ppid, sup.child.pid, 'adopted by the supervisor');
    } else {
      const binds = await waitForContent(join(dir, 'binds'), /^bound \d+\nbound \d+\n$/);
      t.match(binds, /^bound \d+\nbound \d+\n$/, 'the second instance bound the port');
      t.notOk(alive(child), 'the stray got the down-signal');
      t.same(await zombiesLeft(sup.child.pid!), []);
    }
    await svc(dir, '-wD', ...T, '-d');
  });
}

t.test('svc -d while the pidfile parent runs: the daemon it leaves is brought down once adopted', async (t) => {
  const dir = makeService(join(tempDir(t), 'svc'),
    // The daemon tells the parent it has its default TERM back before the parent names it:
    // a TERM sent earlier would hit a process still ignoring it, as the parent does.
    "trap '' TERM\necho $$ > parent\nread x < gate\nenv --default-signal=TERM sh -c 'echo > started; exec sleep 100000' &\nread y < started\necho $! > app.pid\nexit 0",
    { pidfile: 'app.pid\n', 'timeout-ready': '60000\n' });
  mkfifo(join(dir, 'gate'), 0o600);
  mkfifo(join(dir, 'started'), 0o600);
  killAtTeardown(t, () => {
    try {
      return [Number(readFileSync(join(dir, 'app.pid'), 'latin1'))];
    } catch {
      return [];
    }
  });
  await startSupervisor(t, TETHER_SUPERVISE, dir);
  await waitForContent(join(dir, 'parent'), /^\d+\n$/);
  await svc(dir, '-d');
  await waitForStatus(dir, (st) => !st.wantup, 'want down');
  const down = exitOf(spawn('/usr/bin/s6-svwait', ['-D', '-t', '30000', dir], { stdio: 'ignore' }));
  await run('sh', ['-c', 'echo go > gate'], { cwd: dir });
  t.same(await down, { code: 0, signal: null }, 'down once the adopted daemon got the down-signal');
  const daemon = Number(readFileSync(join(dir, 'app.pid'), 'latin1'));
  t.notOk(alive(daemon), 'the daemon is gone');
  t.equal((await svstat(dir, '-o', 'up,wantedup,signal')).stdout, 'false false SIGTERM\n');
});
