import t from 'tap';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp, type AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bounded, exitOf, run, startTether, tempDir, tether } from '../lib/harness';

function listen(server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }, port = 0): Promise<number> {
  return new Promise((res) => server.listen(port, '127.0.0.1', () => res((server.address() as AddressInfo).port)));
}
function close(server: { close(cb: () => void): unknown }): Promise<void> {
  return new Promise((res) => server.close(() => res()));
}

t.test('healthy once the server, which starts late and answers 503 first, answers 200', async (t) => {
  // Phase 1: something that accepts and resets connections (no HTTP yet).
  const tcp = createTcp((sock) => sock.destroy());
  const port = await listen(tcp);
  let resets = 0;
  const firstReset = new Promise<void>((res) => tcp.on('connection', () => (++resets, res())));
  const wh = startTether(t, ['wait-healthy', '--url', `http://127.0.0.1:${port}/health`, '--timeout', '30s', '--interval', '100ms']);
  await bounded(firstReset, 30_000, 'a first attempt');
  await close(tcp);
  // Phase 2: HTTP, 503 twice, then 200.
  const paths: string[] = [];
  const http: Server = createHttp((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(paths.length <= 2 ? 503 : 200).end('ok');
  });
  t.teardown(() => http.closeAllConnections());
  await listen(http, port);
  t.teardown(() => close(http));
  t.same(await exitOf(wh), { code: 0, signal: null });
  t.ok(resets >= 1);
  t.same(paths, ['/health', '/health', '/health'], 'asked until 200, then stopped');
});

t.test('timeout: 99 with the last error, a status or a connection error', async (t) => {
  const http = createHttp((_req, res) => res.writeHead(503).end());
  const port = await listen(http);
  t.teardown(() => close(http));
  let r = await tether(['wait-healthy', '--url', `http://127.0.0.1:${port}/`, '--timeout', '600ms', '--interval', '100ms']);
  t.equal(r.code, 99);
  t.match(r.stderr, /^tether wait-healthy: fatal: timed out after 600 ms waiting for http:\/\/127\.0\.0\.1:\d+\/: last error: HTTP 503 Service Unavailable\n$/);
  const tcp = createTcp();
  const closed = await listen(tcp);
  await close(tcp);
  r = await tether(['wait-healthy', '--url', `http://127.0.0.1:${closed}/`, '--timeout', '300ms', '--interval', '100ms']);
  t.equal(r.code, 99);
  t.match(r.stderr, /last error: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/);
  t.equal(r.stderr.split('\n').length, 2, 'one line');
});

const openssl = ['/usr/bin/openssl', '/bin/openssl'].find(existsSync);
t.test('https: a self-signed certificate only with --insecure or --cacert', { skip: openssl ? false : 'openssl is not installed: no certificate to test with' }, async (t) => {
  const dir = tempDir(t);
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const gen = await run(openssl as string, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  t.equal(gen.code, 0, gen.stderr);
  const https = createHttps({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.writeHead(200).end('ok'));
  const port = await listen(https);
  t.teardown(() => close(https));
  const url = `https://127.0.0.1:${port}/`;
  let r = await tether(['wait-healthy', '--url', url, '--timeout', '500ms', '--interval', '100ms']);
  t.equal(r.code, 99, 'refused by default');
  t.match(r.stderr, /last error: self[- ]signed certificate/);
  r = await tether(['wait-healthy', '--url', url, '--timeout', '20s', '--insecure']);
  t.equal(r.code, 0, r.stderr);
  r = await tether(['wait-healthy', '--url', url, '--timeout', '20s', '--cacert', cert]);
  t.equal(r.code, 0, r.stderr);
});

t.test('usage', async (t) => {
  for (const args of [[], ['--url'], ['--url', 'nope'], ['--url', 'ftp://x/'], ['--url', 'http://x/', '--timeout', '5'], ['--url', 'http://x/', '--interval', 'soon'], ['--url', 'http://x/', '--interval', '0s'], ['--url', 'http://x/', '--cacert', '/nonexistent'], ['--url', 'http://x/', 'extra']]) {
    const r = await tether(['wait-healthy', ...args]);
    t.equal(r.code, 100, `usage: ${args.join(' ')}`);
    t.match(r.stderr, /^tether wait-healthy: fatal: /);
  }
  const h = await tether(['wait-healthy', '-h']);
  t.equal(h.code, 0);
  t.match(h.stdout, /^usage: tether wait-healthy/);
});
