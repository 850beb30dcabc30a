// 100 event streams follow one service through many restarts: each sees
// every restart, the server holds one subscription and bounded memory, and
// each stream closes cleanly.
import t from 'tap';
import { readdirSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { bounded, BOUND_MS, makeService, tempDir } from '../lib/harness';
import { SLEEPER, SUPERVISORS, supervise } from '../clients/lib';
import { EventStream, call, post, startWeb } from './lib';

const CLIENTS = 100;
const ROUNDS = 20;

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+([0-9]+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))![1]);
}

function listeners(dir: string): string[] {
  return readdirSync(join(dir, 'event')).filter((n) => n.startsWith('ftrig1'));
}

/**
 * The listeners left once the server has let go of its subscription, waited
 * for on event/ itself (inotify): the server sees 100 closes in its own time,
 * not necessarily before it answers a request made after them.
 */
async function listenersOnceDropped(dir: string): Promise<string[]> {
  const watcher = watch(join(dir, 'event'));
  try {
    await bounded(new Promise<void>((resolve) => {
      watcher.on('change', () => { if (listeners(dir).length === 0) resolve(); });
      if (listeners(dir).length === 0) resolve();
    }), BOUND_MS, 'the subscription to be dropped');
  } catch {
    // the assertion below shows what is left
  } finally {
    watcher.close();
  }
  return listeners(dir);
}

t.test(`${CLIENTS} event streams on one service`, async (t) => {
  const sup = SUPERVISORS.find((s) => s.missing === null)!;
  const scan = tempDir(t);
  const dir = makeService(join(scan, 'svc'), SLEEPER);
  makeService(join(scan, 'other'), SLEEPER, { down: '' });
  await supervise(t, sup, dir, { up: true });
  const web = await startWeb(t, [scan]);
  const pid = web.child.pid!;
  const idle = rssKiB(pid);

  const streams: EventStream[] = [];
  t.teardown(() => streams.forEach((s) => s.close()));
  for (let i = 0; i < CLIENTS; i++) streams.push(await EventStream.open(web, '/v1/events?service=svc'));
  await Promise.all(streams.map((s) => s.waitFor((r) => r.event === 'snapshot', 'snapshot')));
  t.same(streams[0].records[0].data.services.map((s: any) => s.name), ['svc'], '?service= limits the stream to that service');
  t.equal(listeners(dir).length, 1, `one fifodir subscription for ${CLIENTS} streams`);
  const connected = rssKiB(pid);

  const pids: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await post(web, '/v1/services/svc/restart?wait=restarted&timeout=20000');
    if (r.status !== 200) t.fail(`restart ${i}: ${r.text}`);
    pids.push(r.json.status.pid);
  }
  const last = pids[pids.length - 1];
  await Promise.all(streams.map((s) => s.waitFor((r) => r.event === 'service' && r.data.service.pid === last, 'the last restart')));
  const seen = streams.map((s) => pids.filter((p) => s.records.some((r) => r.event === 'service' && r.data.service.state === 'up' && r.data.service.pid === p)).length);
  t.same(new Set(seen), new Set([ROUNDS]), `every stream saw all ${ROUNDS} restarts`);
  const after = rssKiB(pid);
  t.comment(`server RSS: idle ${idle} KiB, ${CLIENTS} streams ${connected} KiB, after ${ROUNDS} restarts ${after} KiB`);
  t.ok(after - idle < 64 * 1024, 'memory stays bounded (under 64 MiB above idle)');

  const closed = streams.map((s) => new Promise<void>((resolve) => s.res.once('close', () => resolve())));
  for (const s of streams) s.close();
  await bounded(Promise.all(closed), BOUND_MS, 'every stream closed');
  t.equal((await call(web, '/v1/session')).status, 200, 'the server still answers');
  t.same(await listenersOnceDropped(dir), [], 'the last close dropped the subscription');
  t.notMatch(web.stderr(), /warning|fatal/, 'nothing on stderr but the listening line');
  await web.stop();
  t.equal(web.child.exitCode, 0, 'it exits 0 on SIGTERM');
});
