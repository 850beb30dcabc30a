// GET /v1/services/NAME/log: the same lines `tether logs` gives (the same
// reader), and followed as Server-Sent Events; line text stays text.
import t from 'tap';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { HAVE_S6, bounded, BOUND_MS, makeService, tempDir, tether } from '../lib/harness';
import { startScanner, waitForLines, waitUp } from '../scan/lib';
import { EventStream, call, startWeb } from './lib';

/** The descriptors `pid` holds on files of the logdir. */
function logFds(pid: number, scan: string): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).map((fd) => {
    try {
      return readlinkSync(join(dir, fd));
    } catch {
      return '';
    }
  }).filter((target) => target.startsWith(join(scan, 'app', 'log', 'main')));
}

const HOSTILE = '<script>document.title="owned"</script> <b>bold</b> &amp;';

t.test('a service log over HTTP', { skip: HAVE_S6 ? false : "Debian's s6-log is needed" }, async (t) => {
  const scan = tempDir(t);
  makeService(join(scan, 'app'), `echo "line one"\necho '${HOSTILE}'\nexec sleep 1000`, { 'log/run': 'exec s6-log t ./main' });
  makeService(join(scan, 'nolog'), 'exec sleep 1000');
  const scanner = await startScanner(t, scan);
  await waitUp(join(scan, 'app'));
  const current = join(scan, 'app', 'log', 'main', 'current');
  await waitForLines(current, 2);
  const web = await startWeb(t, [scan]);

  t.test('the last N lines, as tether logs --json gives them', async (t) => {
    for (const n of ['1', '2']) {
      const r = await call(web, `/v1/services/app/log?n=${n}`);
      t.equal(r.status, 200);
      // The logdir itself: `tether logs SERVICEDIR` would also take log/supervise (it has a lock) for one.
      const cli = (await tether(['logs', '--json', '-n', n, join(scan, 'app', 'log', 'main')])).stdout.trim().split('\n').map((l) => JSON.parse(l));
      t.same(r.json.lines, cli, `n=${n}: the same records as tether logs --json -n ${n}`);
    }
    const last = (await call(web, '/v1/services/app/log?n=1')).json.lines[0];
    t.equal(last.line, HOSTILE, 'the line as it was logged, markup and all, as a JSON string');
    t.match(last.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/, 'its stamp');
    t.same((await call(web, '/v1/services/app%2Flog/log?n=1')).json.lines, [last], "the logger's row shows its service's log");
  });

  t.test('errors', async (t) => {
    t.equal((await call(web, '/v1/services/nolog/log')).status, 404, 'no log directory: 404');
    t.equal((await call(web, '/v1/services/app/log?n=lots')).status, 400);
    t.equal((await call(web, '/v1/services/app/log?n=100001')).status, 400);
    t.equal((await call(web, '/v1/services/app/log', { method: 'POST' })).status, 405);
  });

  t.test('follow=1: the history, then each new line, and nothing left open after', async (t) => {
    const stream = await EventStream.open(web, '/v1/services/app/log?n=2&follow=1');
    const first = await stream.waitFor((r) => r.event === 'lines', 'the history');
    t.equal(logFds(web.child.pid!, scan).length, 1, 'while following: current is held open');
    t.same(first.data.lines.map((l: any) => l.line), ['line one', HOSTILE]);
    const r = await tether(['svc', '-wr', '-T', '20000', '-r', join(scan, 'app')]);
    t.equal(r.code, 0);
    const next = await stream.waitFor((rec) => rec.event === 'lines' && rec.data.lines.some((l: any) => l.line === 'line one'), 'the restart logging again', 1);
    t.equal(next.data.lines[0].service, 'app');
    const closed = new Promise<void>((resolve) => stream.res.once('close', () => resolve()));
    stream.close();
    await bounded(closed, BOUND_MS, 'the stream closed');
    await call(web, '/v1/session'); // served after the server has handled the close
    t.same(logFds(web.child.pid!, scan), [], 'no descriptor left open on the logdir');
  });
  void scanner;
});
