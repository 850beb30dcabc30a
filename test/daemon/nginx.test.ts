// Debian's nginx in its default self-daemonizing mode: the original process
// forks, exits, and the master writes the pid file itself (often after the
// parent has exited: the late pid file case, for real).
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { childrenOf } from '../../src/os/proc';
import { alive, exitOf, run, startTether, tempDir, tether, type Teardown } from '../lib/harness';
import { killPidAtTeardown, waitForLine } from './fixtures';

const NGINX = '/usr/sbin/nginx';
const skip = existsSync(NGINX) ? false : 'nginx is not installed (Debian package nginx-light)';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const port = (s.address() as AddressInfo).port;
  await new Promise((res) => s.close(res));
  return port;
}

async function nginxConf(t: Teardown) {
  const dir = tempDir(t);
  const port = await freePort();
  const pidFile = join(dir, 'nginx.pid');
  const log = join(dir, 'error.log');
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `pid ${pidFile};
error_log ${log} notice;
worker_processes 2;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; location / { return 200 "ok\\n"; } }
}
`);
  return { dir, port, pidFile, log, argv: [NGINX, '-c', conf, '-p', `${dir}/`] };
}

/** Everything of nginx's we can see: the master and its workers. */
function nginxPids(master: number): number[] {
  return [master, ...childrenOf(master)];
}

t.test('background-watch runs nginx: healthy, HUP reloads it, TERM stops it and leaves no nginx', { skip }, async (t) => {
  const n = await nginxConf(t);
  const bw = startTether(t, ['background-watch', '-t', '20000', '-d', '3', n.pidFile, ...n.argv], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  await new Promise((res) => (bw.stdio[3] as Readable).once('end', res).resume());
  const master = Number(readFileSync(n.pidFile, 'utf8'));
  killPidAtTeardown(t, master);
  t.equal(Number(readFileSync(`/proc/${master}/stat`, 'latin1').split(') ')[1].split(' ')[1]), bw.pid, "nginx's master is background-watch's child");
  const before = nginxPids(master);
  t.equal(before.length, 3, 'a master and two workers');
  const healthy = await tether(['wait-healthy', '--url', `http://127.0.0.1:${n.port}/`, '--timeout', '30s', '--interval', '100ms']);
  t.equal(healthy.code, 0, healthy.stderr);
  process.kill(bw.pid!, 'SIGHUP');
  await waitForLine(n.log, new RegExp(`signal 1 \\(SIGHUP\\) received from ${bw.pid}, reconfiguring`));
  process.kill(bw.pid!, 'SIGTERM');
  t.same(await exitOf(bw), { code: 0, signal: null }, 'nginx exited 0, and so did background-watch');
  t.match(readFileSync(n.log, 'utf8'), new RegExp(`signal 15 \\(SIGTERM\\) received from ${bw.pid}`));
  for (const pid of before) t.notOk(alive(pid), `nginx process ${pid} is gone`);
});

t.test('pidproxy runs nginx and exits with it', { skip }, async (t) => {
  const n = await nginxConf(t);
  const pp = startTether(t, ['pidproxy', n.pidFile, ...n.argv]);
  const healthy = await tether(['wait-healthy', '--url', `http://127.0.0.1:${n.port}/`, '--timeout', '30s', '--interval', '100ms']);
  t.equal(healthy.code, 0, healthy.stderr);
  const master = Number(readFileSync(n.pidFile, 'utf8'));
  killPidAtTeardown(t, master);
  const all = nginxPids(master);
  process.kill(pp.pid!, 'SIGQUIT'); // nginx's graceful shutdown
  t.same(await exitOf(pp), { code: 0, signal: null });
  t.match(readFileSync(n.log, 'utf8'), new RegExp(`signal 3 \\(SIGQUIT\\) received from ${pp.pid}`));
  for (const pid of all) t.notOk(alive(pid), `nginx process ${pid} is gone`);
});

t.test('pidfile kill stops a daemonized nginx that is not our child', { skip }, async (t) => {
  const n = await nginxConf(t);
  const started = await run(n.argv[0], n.argv.slice(1));
  t.equal(started.code, 0, started.stderr);
  const healthy = await tether(['wait-healthy', '--url', `http://127.0.0.1:${n.port}/`, '--timeout', '30s', '--interval', '100ms']);
  t.equal(healthy.code, 0, healthy.stderr);
  const master = Number(readFileSync(n.pidFile, 'utf8'));
  killPidAtTeardown(t, master);
  const all = nginxPids(master);
  const r = await tether(['pidfile', 'kill', '--pid-file', n.pidFile, '--grace', '20s']);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(n.pidFile));
  t.notOk(alive(master), 'the master is gone when kill returns');
  for (const pid of all) t.notOk(alive(pid), `nginx process ${pid} is gone`);
});
