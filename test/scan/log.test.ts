// Loggers: NAME/log joined to NAME by the scanner's pipe, with no line lost
// across restarts of either side and a drained log at shutdown. (`tether log`
// on its own is tested in test/log/.)
import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HAVE_S6, TETHER, bounded, exitOf, makeService, tempDir, tether, writeScript, s6Restart } from '../lib/harness';
import { startScanner, statusPid, waitForLines, waitForPath } from './lib';

const STAMP = /^@[0-9a-f]{24} /;

/** Every line of a log directory, oldest first, stamps checked and removed. */
function logLines(dir: string): string[] {
  const files = readdirSync(dir).filter((n) => /^@[0-9a-f]{24}\.s$/.test(n)).sort();
  if (existsSync(join(dir, 'current'))) files.push('current');
  return files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== '')).map((l) => {
    if (!STAMP.test(l)) throw new Error(`line without a TAI64N stamp: ${JSON.stringify(l)}`);
    return l.slice(26);
  });
}

/**
 * A producer that writes numbered lines, each also appended to `written`
 * after it reached stdout, and on SIGTERM writes 200 more lines ("bye") before
 * exiting: the log must hold every line in `written`.
 */
function producer(written: string): string {
  return `#!/bin/sh
w=${written}
trap 'j=0; while [ $j -lt 200 ]; do j=$((j+1)); echo "$$ bye $j"; echo "$$ bye $j" >> $w; done; exit 0' TERM
i=0
while :; do
  i=$((i+1))
  echo "$$ $i"
  echo "$$ $i" >> $w
  sleep 0.01
done
`;
}

t.test('NAME/log: no line lost across restarts of the producer and of the logger; loggers drain at shutdown', { skip: !HAVE_S6 && 'no s6' }, async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  const written = join(root, 'written');
  const svc = join(scandir, 'prod');
  makeService(svc, producer(written));
  writeScript(join(svc, 'log', 'run'), `#!/bin/sh\nexec ${process.execPath} ${TETHER} log -s 20000 -n 100 ./main\n`);
  const sc = await startScanner(t, scandir);
  const current = join(svc, 'log', 'main', 'current');
  await waitForPath(current);
  await waitForLines(current, 20);
  // Bounds are generous: this runs beside other suites on a small machine.
  const restart = async (dir: string) => {
    const r = await s6Restart(dir, '-t', 60_000);
    if (r.code !== 0) t.comment(`restart of ${dir}: ${r.code}; svscan stderr:\n${sc.output().stderr}`);
    return r;
  };

  for (let round = 0; round < 2; round++) {
    const before = statusPid(svc);
    t.equal((await restart(svc)).code, 0, `producer restarted (round ${round})`);
    const after = statusPid(svc);
    t.not(after, before);
    await waitForLines(current, 10, new RegExp(` ${after} \\d+$`));
    t.equal((await restart(join(svc, 'log'))).code, 0, `logger restarted (round ${round})`);
    await waitForLines(current, 20, new RegExp(` ${after} \\d+$`));
  }
  const last = statusPid(svc);
  t.equal((await sc.stop()).code, 0, 'svscanctl -t: the scanner exits 0 once everything is down');

  const logged = logLines(join(svc, 'log', 'main'));
  const wrote = readFileSync(written, 'utf8').split('\n').filter((l) => l !== '');
  const loggedSet = new Set(logged);
  t.equal(loggedSet.size, logged.length, 'no line logged twice');
  const missing = wrote.filter((l) => !loggedSet.has(l));
  t.same(missing, [], `all ${wrote.length} written lines are in the log`);
  t.ok(loggedSet.has(`${last} bye 200`), 'the last lines the producer wrote while stopping were drained into the log');
  // A producer killed between its two writes logged one line more than it recorded.
  const wroteSet = new Set(wrote);
  const extra = logged.filter((l) => !wroteSet.has(l));
  t.ok(extra.length <= 3, `at most one unrecorded line per producer instance (${extra.length})`);
  t.ok(logged.length > 100, `${logged.length} lines`);
});

t.test('shutdown: the logger drains what its producer writes while stopping', { skip: !HAVE_S6 && 'no s6' }, async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  const svc = join(scandir, 'p');
  // Output written at the very end, while stopping: a logger that is killed early would lose it.
  makeService(svc, `#!/bin/sh\ntrap 'seq 1 3000 | sed "s/^/tail /"; exit 0' TERM\necho started\nwhile :; do sleep 0.05; done\n`);
  writeScript(join(svc, 'log', 'run'), `#!/bin/sh\nexec ${process.execPath} ${TETHER} log t ./main\n`);
  const sc = await startScanner(t, scandir);
  await waitForPath(join(svc, 'log', 'main', 'current'));
  await waitForLines(join(svc, 'log', 'main', 'current'), 1, /started/);
  const ex = await bounded((async () => {
    await tether(['svscanctl', '-t', scandir]);
    return exitOf(sc.child);
  })(), 60_000, 'shutdown');
  t.equal(ex.code, 0);
  const lines = logLines(join(svc, 'log', 'main'));
  t.equal(lines.filter((l) => l.startsWith('tail ')).length, 3000, 'all 3000 lines written during shutdown were logged');
  t.equal(lines[lines.length - 1], 'tail 3000', 'in order, the last one last');
});
