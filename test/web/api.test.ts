// tether web's JSON API on real trees, under Debian's s6-supervise and under
// tether supervise: each POST does what the matching `tether svc` does.
import t from 'tap';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeService, tempDir, tether } from '../lib/harness';
import { SLEEPER, SUPERVISORS, supervise } from '../clients/lib';
import { EventStream, call, post, startWeb } from './lib';

const T = '20000';

/** What an action's effect is judged by; the pid only by whether it changed. */
function effect(row: any, before: any) {
  return {
    state: row.state, up: row.up, wantedup: row.wantedUp, normallyup: row.normallyUp,
    deaths: row.deathTally - before.deathTally, last: row.last, newPid: row.pid !== before.pid,
  };
}

async function rows(...dirs: string[]) {
  const r = await tether(['status', '--json', ...dirs]);
  return JSON.parse(r.stdout);
}

async function row(dir: string) {
  return (await rows(dir))[0];
}

/** Each step: the API's request and the `tether svc` arguments that must do the same. */
const STEPS: Array<{ action: string; body?: Record<string, string>; query: string; svc: string[]; expect: Record<string, unknown> }> = [
  { action: 'up', query: 'wait=up', svc: ['-wu', '-u'], expect: { up: true, wantedup: true, newPid: true } },
  { action: 'once', query: 'wait=up', svc: ['-wu', '-o'], expect: { up: true, wantedup: false, newPid: false } },
  { action: 'up', query: '', svc: ['-u'], expect: { up: true, wantedup: true, newPid: false } },
  { action: 'restart', query: 'wait=restarted', svc: ['-wr', '-r'], expect: { up: true, deaths: 1, last: 'SIGTERM', newPid: true } },
  { action: 'signal', body: { signal: 'USR1', wait: 'restarted' }, query: '', svc: ['-wr', '-s', 'USR1'], expect: { up: true, deaths: 1, last: 'SIGUSR1', newPid: true } },
  { action: 'signal', body: { signal: 'SIGSTOP' }, query: 'wait=up', svc: ['-wu', '-p'], expect: { up: true, newPid: false } },
  { action: 'signal', body: { signal: 'CONT' }, query: '', svc: ['-c'], expect: { up: true, newPid: false } },
  { action: 'down', query: 'wait=down', svc: ['-wd', '-d'], expect: { up: false, wantedup: false, deaths: 1, last: 'SIGTERM' } },
];

for (const sup of SUPERVISORS) {
  t.test(sup.name, { skip: sup.missing ?? false }, async (t) => {
    const scan = tempDir(t);
    const viaApi = makeService(join(scan, 'api'), SLEEPER, { down: '' });
    const viaSvc = makeService(join(scan, 'svc'), SLEEPER, { down: '' });
    const slow = makeService(join(scan, 'slow'), SLEEPER, { down: '', 'notification-fd': '3\n' });
    makeService(join(scan, 'unsupervised'), SLEEPER);
    for (const dir of [viaApi, viaSvc, slow]) await supervise(t, sup, dir);
    const web = await startWeb(t, [scan]);

    t.test('each POST has the effect of the matching tether svc', async (t) => {
      for (const step of STEPS) {
        const name = `${step.action} ${step.body ? JSON.stringify(step.body) : ''}${step.query}`;
        const [apiBefore, svcBefore] = await rows(viaApi, viaSvc);
        const r = await post(web, `/v1/services/api/${step.action}${step.query ? `?${step.query}&timeout=${T}` : `?timeout=${T}`}`, step.body);
        t.equal(r.status, 200, `${name}: ${r.text}`);
        t.equal(r.json.exitCode, 0, `${name}: exit code 0 in the JSON`);
        const s = await tether(['svc', '-T', T, ...step.svc, viaSvc]);
        t.equal(s.code, 0, `tether svc ${step.svc.join(' ')}: ${s.stderr}`);
        const [apiAfter, svcAfter] = await rows(viaApi, viaSvc);
        const apiEffect = effect(apiAfter, apiBefore);
        const svcEffect = effect(svcAfter, svcBefore);
        t.same(apiEffect, svcEffect, `${name}: the same effect as tether svc ${step.svc.join(' ')}`);
        t.match(apiEffect, step.expect, `${name}: the expected effect`);
      }
      t.equal((await post(web, '/v1/services/api/signal?signal=KILL')).json.bytes, 'k', 'signal=KILL is the byte k');
    });

    t.test('waits carry s6 exit codes: 99 timeout, 102 not supervised', async (t) => {
      const r = await post(web, '/v1/services/slow/up?wait=ready&timeout=300');
      const s = await tether(['svc', '-wU', '-T', '300', '-u', slow]);
      t.equal(s.code, 99, 'tether svc -wU times out: the service never reports readiness');
      t.equal(r.status, 504, 'the API answers 504 Gateway Timeout');
      t.equal(r.json.exitCode, 99, 'with exit code 99 in the JSON');
      t.match(r.json.error.message, /timed out/);
      t.equal(r.json.status.state, 'starting', 'and the service state after the wait: up, not yet ready');

      const u = await post(web, '/v1/services/unsupervised/up');
      const us = await tether(['svc', '-u', join(scan, 'unsupervised')]);
      t.equal(us.code, 102);
      t.equal(u.status, 409, 'not supervised: 409');
      t.equal(u.json.exitCode, 102, 'exit code 102, as tether svc');

      const w = await post(web, `/v1/services/api/up?wait=ready&timeout=${T}`);
      t.equal(w.json.exitCode, 0);
      t.match(w.json.warnings, [/notification-fd not present - ignoring request for readiness notification/], 'the readiness fallback is a warning, as tether svc prints');
    });

    t.test('GET /v1/services and /v1/services/NAME give the fields of tether status --json', async (t) => {
      const r = await call(web, '/v1/services');
      const cli = JSON.parse((await tether(['status', '--json', scan])).stdout);
      t.equal(r.status, 200);
      t.same(r.json.map((x: any) => x.name), cli.map((x: any) => x.name), 'the same services, in the same order');
      t.same(r.json.map((x: any) => Object.keys(x)), cli.map((x: any) => Object.keys(x)), 'the same fields');
      t.same(r.json.map((x: any) => [x.state, x.pid]), cli.map((x: any) => [x.state, x.pid]), 'the same states and pids');
      const one = await call(web, '/v1/services/svc');
      t.equal(one.json.name, 'svc');
      t.equal(one.json.dir, viaSvc);
      const missing = await call(web, '/v1/services/nope');
      t.equal(missing.status, 404);
      t.match(missing.json, { error: { status: 404, message: 'no such service: nope' } });
      t.equal((await call(web, '/v1/nothing')).status, 404);
      t.equal((await post(web, '/v1/services/api/explode')).status, 404, 'an unknown action is a 404');
      t.equal((await post(web, '/v1/services/api/up?wait=sideways')).status, 400, 'an unknown wait is a 400');
      t.equal((await post(web, '/v1/services/api/up?timeout=-1')).status, 400, 'a bad timeout is a 400');
      t.equal((await post(web, '/v1/services/api/signal?signal=SEGV')).status, 400, 'a signal svc cannot send is a 400');
      const bad = await call(web, '/v1/services/api/up', { method: 'POST', headers: { 'x-tether-csrf': (await call(web, '/v1/session')).json.csrf, 'content-type': 'application/json' }, body: '{' });
      t.equal(bad.status, 400, 'a body that is not JSON is a 400');
    });

    t.test('GET /v1/events: every transition with the name and the new status; one subscription for many streams', async (t) => {
      const streams = await Promise.all([1, 2, 3].map(() => EventStream.open(web)));
      t.teardown(() => streams.forEach((s) => s.close()));
      for (const s of streams) await s.waitFor((r) => r.event === 'snapshot', 'the snapshot');
      t.same(streams[0].records[0].data.services.map((x: any) => x.name), ['api', 'slow', 'svc', 'unsupervised']);
      for (const dir of [viaApi, viaSvc, slow]) {
        const fifos = readdirSync(join(dir, 'event')).filter((n) => n.startsWith('ftrig1'));
        t.equal(fifos.length, 1, `${dir}: one fifodir subscription for three streams`);
      }
      t.equal((await row(viaSvc)).state, 'down', 'svc is down (the last step above)');
      const s = await tether(['svc', '-wu', '-T', T, '-u', viaSvc]);
      t.equal(s.code, 0);
      const after = (await row(viaSvc)).pid;
      for (const stream of streams) {
        const ev = await stream.waitFor((r) => r.event === 'service' && r.data.name === 'svc' && r.data.service.pid === after, 'the up event of svc');
        t.match(ev.data.events, /u/, 'the event bytes');
        t.equal(ev.data.service.state, 'up', 'the new status');
      }
      streams.forEach((st) => st.close());
      await Promise.all(streams.map((st) => st.waitFor(() => false, 'end', 0).catch(() => undefined)));
    });

    t.test('a service added to or removed from the scan directory reaches the streams as a snapshot', async (t) => {
      const stream = await EventStream.open(web);
      t.teardown(() => stream.close());
      await stream.waitFor((r) => r.event === 'snapshot', 'the first snapshot');
      const names = (r: any) => r.data.services.map((x: any) => x.name);
      makeService(join(scan, 'added'), SLEEPER);
      const grown = await stream.waitFor((r) => r.event === 'snapshot' && names(r).includes('added'), 'a snapshot with the new service', 1);
      t.same(names(grown), ['added', 'api', 'slow', 'svc', 'unsupervised']);
      t.equal(grown.data.services[0].state, 'not supervised');
      rmSync(join(scan, 'added'), { recursive: true });
      const shrunk = await stream.waitFor((r) => r.event === 'snapshot' && !names(r).includes('added'), 'a snapshot without it', stream.records.indexOf(grown) + 1);
      t.same(names(shrunk), ['api', 'slow', 'svc', 'unsupervised']);
      stream.close();
    });

    t.test('the last stream closing drops the subscriptions', async (t) => {
      // The server notices a closed stream on its next turn; a request after it is served after.
      await call(web, '/v1/session');
      for (const dir of [viaApi, viaSvc, slow]) {
        t.same(readdirSync(join(dir, 'event')).filter((n) => n.startsWith('ftrig1')), [], `${dir}: no listener left`);
      }
    });
  });
}
