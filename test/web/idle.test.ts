// Idle with an event stream open, the server polls nothing: strace over more
// than one heartbeat period sees the heartbeat's write, and no open, stat,
// directory read or sleep. (Right after start-up V8's own threads still
// collect garbage and wake the loop through its eventfd, so reads and futex
// calls are not counted; the README gives a 60 s trace of a settled server.)
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOUND_MS, makeService, run, tempDir } from '../lib/harness';
import { SLEEPER, SUPERVISORS, supervise } from '../clients/lib';
import { TICK_MS } from '../../src/web/housekeeping';
import { EventStream, startWeb } from './lib';

const STRACE = '/usr/bin/strace';
/** What looking at the disk, or waiting on a clock, would show. */
const POLLING = /^(open|openat|stat|lstat|fstat|newfstatat|statx|getdents64|readlink|readlinkat|access|faccessat2?|inotify_\w+|nanosleep|clock_nanosleep|poll|ppoll|select|pselect6|connect|accept4?)$/;

t.test('idle with a stream open: only heartbeats', { skip: existsSync(STRACE) ? false : 'no strace (apt-get install strace)' }, async (t) => {
  const sup = SUPERVISORS.find((s) => s.missing === null)!;
  const scan = tempDir(t);
  const dir = makeService(join(scan, 'svc'), SLEEPER);
  await supervise(t, sup, dir, { up: true });
  const web = await startWeb(t, [scan]);
  const stream = await EventStream.open(web);
  t.teardown(() => stream.close());
  await stream.waitFor((r) => r.event === 'snapshot', 'snapshot');
  const out = join(tempDir(t), 'strace.out');
  // A window of one heartbeat period and a half: at least one heartbeat falls in it.
  const seconds = String(Math.ceil((TICK_MS * 1.5) / 1000));
  await run('timeout', ['-s', 'INT', seconds, STRACE, '-f', '-qq', '-o', out, '-p', String(web.child.pid)], { timeout: BOUND_MS + TICK_MS * 2 });
  const calls = readFileSync(out, 'latin1').split('\n')
    .map((l) => /^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined);
  t.ok(calls.includes('writev') || calls.includes('write'), `a heartbeat was written (${calls.length} calls)`);
  t.same(calls.filter((c) => POLLING.test(c)), [], 'no open, no stat, no directory read, no sleep');
  t.ok(stream.comments >= 1, 'the stream got the heartbeat comment');
});
