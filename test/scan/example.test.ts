// servicedirs-example, as `npm start` runs it: a copy of the tree, on free
// ports, under tether svscan --watch.
import t from 'tap';
import { cpSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { FifodirListener } from '../../src/wire/fifodir';
import { ROOT, bounded, alive, run, tempDir, tether } from '../lib/harness';
import { descendants, startScanner, statusPid, waitForLines } from './lib';
import { waitForFile } from '../lib/harness';

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

function httpGet(port: number): Promise<string> {
  return bounded(new Promise((res, rej) => {
    get({ host: '127.0.0.1', port, path: '/' }, (r) => {
      let body = '';
      r.on('data', (d) => (body += d));
      r.on('end', () => res(body));
    }).on('error', rej);
  }), 30_000, 'HTTP answer');
}

function tcpLine(port: number): Promise<string> {
  return bounded(new Promise((res, rej) => {
    let text = '';
    connect(port, '127.0.0.1').on('data', (d) => (text += d)).on('end', () => res(text)).on('error', rej);
  }), 30_000, 'daemon answer');
}

t.test('the example tree runs: web ready with its logger, the daemon adopted, backup down, crashy restarted', async (t) => {
  const root = tempDir(t);
  const tree = join(root, 'servicedirs-example');
  // The committed files only: a local `npm start` leaves runtime state beside them.
  const state = /\/(supervise|event|\.s6-svscan|main|daemon\.pid)$/;
  cpSync(join(ROOT, 'servicedirs-example'), tree, { recursive: true, filter: (src) => !state.test(src) });
  const [port, daemonPort] = [await freePort(), await freePort()];
  // Run scripts call `tether` from PATH, as npm start arranges it; the copy
  // sits outside the checkout, so no relative path could reach bin/.
  const env = { ...process.env, PORT: String(port), DAEMON_PORT: String(daemonPort), PATH: `${join(ROOT, 'bin')}:${process.env.PATH}` };

  const crashyEvents = FifodirListener.subscribe(join(tree, 'crashy', 'event'));
  t.teardown(() => crashyEvents.close());
  let deaths = 0;
  const twoDeaths = bounded(new Promise<void>((res) => crashyEvents.onEvents((e) => {
    deaths += [...e].filter((c) => c === 'd').length;
    if (deaths >= 2) res();
  })), 30_000, 'two deaths of crashy');

  const sc = await startScanner(t, tree, { args: ['--watch'], env });
  t.equal((await tether(['svwait', '-U', '-t', '30000', join(tree, 'web')])).code, 0, 'web is up and ready');
  t.match(JSON.parse(await httpGet(port)), { service: 'web', pid: statusPid(join(tree, 'web')) }, 'web answers, and is the supervised pid');
  await waitForFile(join(tree, 'web', 'log', 'main', 'current'));
  await waitForLines(join(tree, 'web', 'log', 'main', 'current'), 1, /GET \//);
  t.match(readFileSync(join(tree, 'web', 'log', 'main', 'current'), 'utf8'), /^@[0-9a-f]{24} web: listening/m, 'its output reached its logger, stamped');

  t.equal((await tether(['svwait', '-u', '-t', '30000', join(tree, 'daemon')])).code, 0, 'daemon is up');
  await waitForFile(join(tree, 'daemon', 'daemon.pid'));
  const daemonPid = Number(readFileSync(join(tree, 'daemon', 'daemon.pid'), 'utf8'));
  const answer = await tcpLine(daemonPort);
  t.match(answer, new RegExp(`^hello from daemon ${daemonPid}\\n$`), 'the daemon answers');
  t.equal(statusPid(join(tree, 'daemon')), daemonPid, 'the supervisor adopted the daemon from its pid file');

  t.match((await run('/usr/bin/s6-svstat', [join(tree, 'backup')])).stdout, /^down .*normally down|^down /, 'backup is down');
  t.match((await tether(['svstat', '-o', 'up,normallyup', join(tree, 'backup')])).stdout, /^false false/);
  await twoDeaths;
  t.ok(deaths >= 2, 'crashy keeps being restarted');

  const everything = descendants(sc.pid);
  t.equal((await sc.stop()).code, 0, 'the scanner stops everything and exits 0');
  for (const p of everything) t.notOk(alive(p), `pid ${p} is gone`);
  t.notOk(alive(daemonPid), 'the daemon too');
});
