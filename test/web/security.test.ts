// tether web's safety: what a hostile page, a rebound DNS name or a stray
// GET can and cannot do, and what the server opens by default.
import t from 'tap';
import { lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeService, run, tempDir, tether, type Teardown } from '../lib/harness';
import { SUPERVISORS, supervise } from '../clients/lib';
import { ACTIONS } from '../../src/web/control';
import { EventStream, auth, call, defaultSocket, post, startWeb, type WebHandle } from './lib';

const CANARY = 'tether-canary-d41d8cd98f00b204';
const sup = SUPERVISORS.find((s) => s.missing === null)!;

/** A tree of one service whose environment and arguments hold the canary. */
async function tree(t: Teardown) {
  const scan = tempDir(t);
  const dir = makeService(join(scan, 'app'), `exec env APP_SECRET=${CANARY} sh -c 'exec sleep 1000' ${CANARY}`);
  await supervise(t, sup, dir, { up: true });
  return { scan, dir };
}

async function state(web: WebHandle) {
  const r = await call(web, '/v1/services/app', { headers: auth(web) });
  return { pid: r.json.pid, wantedup: r.json.wantedUp, deaths: r.json.deathTally, state: r.json.state };
}

const env = { ...process.env, APP_SECRET: CANARY };

t.test('default: a 0600 unix socket in a 0700 directory, and no TCP listener', async (t) => {
  const { scan } = await tree(t);
  const web = await startWeb(t, [scan], env);
  t.equal(web.socket, defaultSocket(scan));
  const sock = lstatSync(web.socket!);
  t.ok(sock.isSocket(), 'a socket');
  t.equal(sock.mode & 0o777, 0o600, 'mode 0600');
  t.equal(statSync(join(scan, '.tether')).mode & 0o777, 0o700, '.tether is 0700');
  const ss = await run('ss', ['-ltnpH']);
  t.equal(ss.code, 0);
  t.notMatch(ss.stdout, new RegExp(`pid=${web.child.pid},`), 'ss -ltnp shows no TCP listener of that pid');
  const ssx = await run('ss', ['-lxpH']);
  t.match(ssx.stdout, new RegExp(`${web.socket}.*pid=${web.child.pid},`), 'ss -lxp shows its unix socket');
  await web.stop();
  t.notOk(existsSync(web.socket!), 'the socket is removed at SIGTERM');
});

t.test('a .tether that is a symlink is refused, not followed', async (t) => {
  const { scan } = await tree(t);
  const elsewhere = tempDir(t);
  symlinkSync(elsewhere, join(scan, '.tether'));
  const r = await tether(['web', scan]);
  t.equal(r.code, 111);
  t.match(r.stderr, /^tether web: fatal: unable to open .*\.tether \(it must be a directory, not a symlink\)/);
  t.notOk(existsSync(join(elsewhere, 'web.sock')), 'nothing was made through the symlink');
});

t.test('a loose .tether is tightened to 0700; a live socket is not stolen', async (t) => {
  const { scan } = await tree(t);
  mkdirSync(join(scan, '.tether'), 0o755);
  const web = await startWeb(t, [scan]);
  t.equal(statSync(join(scan, '.tether')).mode & 0o777, 0o700);
  const second = await tether(['web', scan]);
  t.equal(second.code, 111);
  t.match(second.stderr, /another tether web is listening there/);
  t.equal((await call(web, '/v1/session')).status, 200, 'the first one still answers');
});

t.test('usage: only loopback addresses', async (t) => {
  for (const bad of ['0.0.0.0:8080', '192.168.1.1:80', 'example.com:80', '127.0.0.1', '127.0.0.1:99999', 'unix:']) {
    const r = await tether(['web', '--listen', bad, '.']);
    t.equal(r.code, 100, `--listen ${bad}: 100`);
    t.match(r.stderr, /^tether web: fatal: usage: tether web \[--listen/);
  }
  t.equal((await tether(['web'])).code, 100, 'no operand: 100');
  t.equal((await tether(['web', '/nonexistent/scan'])).code, 111, 'a missing directory: 111');
});

for (const kind of ['unix', 'tcp'] as const) {
  t.test(`${kind}: the request checks`, async (t) => {
    const { scan } = await tree(t);
    const web = await startWeb(t, kind === 'tcp' ? ['--listen', '127.0.0.1:0', scan] : [scan], env);
    const host = kind === 'tcp' ? `127.0.0.1:${web.port}` : 'localhost';
    const csrf = (await call(web, '/v1/session', { headers: auth(web) })).json.csrf;
    const before = await state(web);
    const poke = (headers: Record<string, string>, path = '/v1/services/app/restart') => call(web, path, { method: 'POST', headers: { ...auth(web), ...headers } });

    t.test('a wrong Host is refused (DNS rebinding)', async (t) => {
      for (const h of ['evil.example', `evil.example:${web.port || 80}`, kind === 'tcp' ? `127.0.0.1:${web.port + 1}` : '10.0.0.1']) {
        const r = await call(web, '/v1/services', { headers: { ...auth(web), host: h } });
        t.equal(r.status, 421, `Host: ${h}`);
        t.equal(r.json.error.status, 421, 'a JSON error');
        t.equal((await poke({ host: h, 'x-tether-csrf': csrf })).status, 421, `POST with Host: ${h}`);
      }
      t.equal((await call(web, '/', { headers: { host: 'evil.example' } })).status, 421, 'the page too');
    });

    t.test('a cross-origin POST is refused', async (t) => {
      const r = await poke({ 'x-tether-csrf': csrf, origin: 'http://evil.example' });
      t.equal(r.status, 403);
      t.match(r.json.error.message, /cross-origin/);
      t.equal((await poke({ 'x-tether-csrf': csrf, origin: 'null' })).status, 403, 'Origin: null');
      t.equal((await poke({ 'x-tether-csrf': csrf, origin: `http://${host}`, 'sec-fetch-site': 'same-site' })).status, 403, 'another port of the same site');
      t.equal((await call(web, '/v1/services', { headers: { ...auth(web), 'sec-fetch-site': 'cross-site' } })).status, 403, 'a cross-site GET');
    });

    t.test('a POST without the CSRF token, or with a wrong one, is refused', async (t) => {
      t.equal((await poke({})).status, 403, 'none');
      t.equal((await poke({ 'x-tether-csrf': `${csrf.slice(0, -1)}x` })).status, 403, 'wrong');
      t.equal((await poke({ 'x-tether-csrf': '' })).status, 403, 'empty');
    });

    t.test('GET never mutates', async (t) => {
      for (const action of ACTIONS) {
        const r = await call(web, `/v1/services/app/${action}?signal=KILL&wait=down`, { headers: auth(web) });
        t.equal(r.status, 405, `GET ${action}: 405`);
        t.equal(r.headers.allow, 'POST');
      }
      t.equal((await call(web, '/v1/login', { headers: auth(web) })).status, 405);
      t.same(await state(web), before, 'nothing changed: same pid, want-up, deaths');
    });

    t.test('the same POST, proper, works (the checks above could fail)', async (t) => {
      const r = await poke({ 'x-tether-csrf': csrf, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }, '/v1/services/app/restart?wait=restarted&timeout=20000');
      t.equal(r.status, 200, r.text);
      t.not((await state(web)).pid, before.pid, 'restarted');
    });

    t.test('no answer carries the environment, the arguments, or a CORS header', async (t) => {
      const stream = await EventStream.open(web);
      await stream.waitFor((r) => r.event === 'snapshot', 'snapshot');
      const answers = [
        await call(web, '/v1/services', { headers: auth(web) }),
        await call(web, '/v1/services/app', { headers: auth(web) }),
        await call(web, '/v1/session', { headers: auth(web) }),
        await post(web, '/v1/services/app/signal?signal=HUP&wait=restarted&timeout=20000'),
        await post(web, '/v1/services/app/up?wait=up'),
        await call(web, '/', {}),
        await call(web, '/app.js', {}),
        await call(web, '/v1/services/nope', { headers: auth(web) }),
        await call(web, '/v1/services', { headers: { host: 'evil.example' } }),
      ];
      await stream.waitFor((r) => r.event === 'service' && r.data.events.includes('u'), 'the restart event');
      stream.close();
      const streamed = JSON.stringify(stream.records);
      t.ok(streamed.includes('"name":"app"'), 'the stream did carry the service');
      t.notOk(streamed.includes(CANARY), 'the event stream: no canary');
      for (const a of answers) {
        t.notOk(a.text.includes(CANARY), `no canary in ${a.text.slice(0, 60)}`);
        t.same(Object.keys(a.headers).filter((h) => h.startsWith('access-control-')), [], 'no CORS header');
      }
      const proc = readFileSync(`/proc/${(await state(web)).pid}/environ`, 'latin1');
      t.ok(proc.includes(CANARY), 'while the service does have the canary in its environment');
      t.equal(answers[5].headers['content-security-policy'], "default-src 'self'", 'the page has the CSP');
      t.notMatch(answers[5].text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the page');
    });
  });
}

t.test('tcp: the token, the cookie it is exchanged for, the token file', async (t) => {
  const { scan } = await tree(t);
  const web = await startWeb(t, ['--listen', '127.0.0.1:0', scan]);
  const file = join(scan, '.tether', 'web.token');
  t.equal(statSync(file).mode & 0o777, 0o600, 'the token file is 0600');
  t.equal(readFileSync(file, 'utf8'), `${web.token}\n`, 'it holds the token shown on stderr');
  t.ok(Buffer.from(web.token!, 'base64url').length >= 16, 'at least 128 bits');
  t.equal(web.stderr().split(web.token!).length - 1, 1, 'shown once on stderr');
  const anon = { host: `127.0.0.1:${web.port}` };
  t.equal((await call({ ...web, token: null }, '/v1/services', { headers: anon })).status, 401, 'no token: 401');
  t.equal((await call(web, '/v1/services', { headers: { authorization: 'Bearer nope' } })).status, 401, 'a wrong bearer: 401');
  t.equal((await call(web, '/', { headers: {} })).status, 200, 'the page itself needs no token (it asks for one)');
  const wrong = await call(web, '/v1/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'guess' }) });
  t.equal(wrong.status, 401, 'a wrong token does not log in');
  t.notOk(wrong.headers['set-cookie'], 'and sets no cookie');
  const form = await call(web, '/v1/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${web.token}` });
  t.equal(form.status, 415, 'a form post cannot log in');
  const login = await call(web, '/v1/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: web.token }) });
  t.equal(login.status, 200);
  const cookie = login.headers['set-cookie']![0];
  t.match(cookie, /; HttpOnly/);
  t.match(cookie, /; SameSite=Strict/);
  const pair = cookie.split(';')[0];
  const noBearer = { ...web, token: null };
  t.equal((await call(noBearer, '/v1/services', { headers: { cookie: pair } })).status, 200, 'the cookie authenticates');
  const csrf = login.json.csrf;
  const poke = (headers: Record<string, string>) => call(noBearer, '/v1/services/app/up', { method: 'POST', headers: { cookie: pair, ...headers } });
  t.equal((await poke({})).status, 403, 'cookie without CSRF: refused');
  t.equal((await poke({ 'x-tether-csrf': (await call(web, '/v1/session', { headers: auth(web) })).json.csrf })).status, 403, "another credential's CSRF token: refused");
  t.equal((await poke({ 'x-tether-csrf': csrf })).status, 200, 'cookie with its CSRF token: done');
  await web.stop();
  t.notOk(existsSync(file), 'the token file is removed at SIGTERM');
});

t.test('[::1]: the IPv6 loopback, with the same checks', async (t) => {
  const { scan } = await tree(t);
  const web = await startWeb(t, ['--listen', '[::1]:0', scan]);
  t.equal(web.address, '::1');
  t.match(web.stderr(), new RegExp(`listening on http://\\[::1\\]:${web.port}/`));
  for (const host of [`[::1]:${web.port}`, `localhost:${web.port}`]) {
    t.equal((await call(web, '/v1/services', { headers: { ...auth(web), host } })).status, 200, `Host: ${host}`);
  }
  t.equal((await call(web, '/v1/services', { headers: { ...auth(web), host: `evil.example:${web.port}` } })).status, 421);
  t.equal((await call(web, '/v1/services', { headers: { host: `[::1]:${web.port}` } })).status, 401, 'no token: 401');
  const ss = await run('ss', ['-ltnpH']);
  const mine = ss.stdout.split('\n').filter((l) => l.includes(`pid=${web.child.pid},`));
  t.equal(mine.length, 1, 'one listener');
  t.match(mine[0], new RegExp(`\\[::1\\]:${web.port}\\s`), 'on [::1] only');
});

t.test('--read-only serves status and events, and refuses every mutation', async (t) => {
  const { scan } = await tree(t);
  const web = await startWeb(t, ['--read-only', scan]);
  const before = await state(web);
  const session = await call(web, '/v1/session');
  t.same(session.json, { csrf: session.json.csrf, readOnly: true, actions: [], logs: true });
  for (const action of ACTIONS) {
    const r = await post(web, `/v1/services/app/${action}?signal=KILL`);
    t.equal(r.status, 403, `${action}: 403`);
    t.match(r.json.error.message, /read-only/);
  }
  t.same(await state(web), before, 'nothing changed');
  t.equal((await call(web, '/v1/services')).status, 200, 'GET /v1/services works');
  const stream = await EventStream.open(web);
  await stream.waitFor((r) => r.event === 'snapshot', 'the snapshot');
  stream.close();
});
