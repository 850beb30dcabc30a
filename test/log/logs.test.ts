// tether logs: history oldest first, exact -n across archives, --json and
// --raw, several services merged by time, and -f following a fast stream
// across 1000 rotations, byte for byte.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TETHER, bounded, exitOf, tempDir, tether } from '../lib/harness';
import { formatTain } from '../../src/wire/tain';
import { archives, logdirBytes, tetherLog } from './lib';

/** A logdir written by hand: each file a list of [unix ms, text]. */
function handmade(dir: string, files: Record<string, Array<[number, string]>>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, lines] of Object.entries(files)) {
    writeFileSync(join(dir, name), lines.map(([ms, text]) => `${formatTain({ secs: Math.floor(ms / 1000), nano: (ms % 1000) * 1e6 })} ${text}\n`).join(''));
  }
}

t.test('history: archives then current, local time as s6-tai64nlocal prints it; --raw; --json', async (t) => {
  const dir = join(tempDir(t), 'svc', 'log', 'main');
  mkdirSync(join(dir, '..'), { recursive: true }); // as s6-log, tether log makes the logdir, not its parents
  const input = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join('\n') + '\n';
  await tetherLog(['t', 's4096', 'n100', dir], input);
  t.ok(archives(dir).length > 5);
  const raw = await tether(['logs', '--raw', dir]);
  t.equal(raw.stdout, logdirBytes(dir).toString(), '--raw: the stored lines, in order');
  const local = await tether(['logs', dir]);
  const s6 = await new Promise<string>((res) => {
    const c = spawn('/usr/bin/s6-tai64nlocal', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', () => res(out));
    c.stdin.end(raw.stdout);
  });
  t.equal(local.stdout, s6, 'the same text as s6-tai64nlocal');
  const json = await tether(['logs', '--json', '-n', '2', join(dir, '..', '..')]);
  const objs = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.same(objs.map((o) => [o.service, o.line]), [['svc', 'line 2998'], ['svc', 'line 2999']], '--json: service and line; a service directory finds log/main');
  t.match(objs[0].ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
});

t.test('-n N is exactly N lines across archives, whatever their length', async (t) => {
  const dir = join(tempDir(t), 'log');
  const lines = Array.from({ length: 600 }, (_, i) => `${i} ${'x'.repeat((i * 37) % 900)}`);
  await tetherLog(['t', 's4096', 'n1000', dir], lines.join('\n') + '\n');
  t.ok(archives(dir).length > 20);
  for (const n of [1, 7, 250, 599, 600, 5000]) {
    const r = await tether(['logs', '--json', '-n', String(n), dir]);
    const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l).line);
    t.same(got, lines.slice(-n), `-n ${n}`);
  }
});

t.test('several services merged by timestamp, tagged; --since and --until', async (t) => {
  const root = tempDir(t);
  const base = Date.UTC(2026, 0, 1);
  handmade(join(root, 'a', 'log', 'main'), { '@400000006956d00000000000.s': [[base + 1, 'a1'], [base + 4, 'a4']], current: [[base + 5, 'a5'], [base + 9, 'a9']] });
  handmade(join(root, 'b', 'log', 'main'), { current: [[base + 2, 'b2'], [base + 3, 'b3'], [base + 7, 'b7']] });
  const r = await tether(['logs', '--raw', root]);
  t.same(r.stdout.trim().split('\n').map((l) => l.replace(/@[0-9a-f]{24} /, '')), ['a | a1', 'b | b2', 'b | b3', 'a | a4', 'a | a5', 'b | b7', 'a | a9'], 'ordered by time, each tagged');
  const last3 = await tether(['logs', '--json', '-n', '3', root]);
  t.same(last3.stdout.trim().split('\n').map((l) => JSON.parse(l).line), ['a5', 'b7', 'a9'], '-n over the merged view');
  const tai = (ms: number) => formatTain({ secs: Math.floor(ms / 1000), nano: (ms % 1000) * 1e6 });
  const window = await tether(['logs', '--json', '--since', tai(base + 3), '--until', tai(base + 7), root]);
  t.same(window.stdout.trim().split('\n').map((l) => JSON.parse(l).line), ['b3', 'a4', 'a5', 'b7'], '--since and --until, inclusive');
  t.equal((await tether(['logs', '--since', 'yesterday', root])).code, 100, 'a bad time is a usage error');
  t.equal((await tether(['logs', join(root, 'nothing')])).code, 111, 'no logdir: 111');
});

t.test('-f follows a fast stream through 1000 rotations: the output is the archives, byte for byte', async (t) => {
  const dir = join(tempDir(t), 'log');
  await tetherLog(['t', dir], ''); // an empty logdir to follow from the start
  const follower = spawn(process.execPath, [TETHER, 'logs', '-f', '--raw', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => follower.kill('SIGKILL'));
  const chunks: Buffer[] = [];
  let got = 0;
  let waiter: (() => void) | null = null;
  let want = Infinity;
  follower.stdout.on('data', (d: Buffer) => {
    chunks.push(d);
    got += d.length;
    if (got >= want) waiter?.();
  });
  // Lines of varied length; s4096 l2000 rotates about every 2.1 KB: over 1000 rotations.
  const input = Array.from({ length: 40_000 }, (_, i) => `${i} ${'y'.repeat(i % 50)}`).join('\n') + '\n';
  const r = await tetherLog(['t', 's4096', 'n5000', dir], input, { ms: 120_000 });
  t.equal(r.code, 0);
  const expected = logdirBytes(dir);
  t.ok(archives(dir).length >= 1000, `${archives(dir).length} rotations`);
  want = expected.length;
  if (got < want) await bounded(new Promise<void>((res) => (waiter = res)), 60_000, `${want} bytes from tether logs -f (got ${got})`);
  follower.kill('SIGTERM');
  await exitOf(follower);
  const out = Buffer.concat(chunks);
  t.equal(out.length, expected.length, 'as many bytes');
  t.ok(out.equals(expected), 'the same bytes: no line repeated or skipped');
});
