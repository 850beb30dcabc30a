// 200 000 numbered lines through `tether log` under `tether svscan`, while
// the logger rotates every few KB and is restarted (SIGTERM) again and
// again: every line arrives exactly once, in order, never torn.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HAVE_S6, TETHER, makeService, s6Restart, tempDir, writeScript } from '../lib/harness';
import { startScanner, statusPid, waitForPath } from '../scan/lib';
import { archives, stampedLines, waitInDir } from './lib';

const LINES = 200_000;

t.test('200 000 lines, exactly once and in order, across repeated SIGTERM restarts of the logger', { skip: !HAVE_S6 && 'no s6' }, async (t) => {
  const root = tempDir(t);
  const scandir = join(root, 'scan');
  const svc = join(scandir, 'prod');
  // Batches of 2000 lines; seq's stdio cuts them into blocks that end mid-line.
  makeService(svc, `#!/bin/sh
i=0
while [ $i -lt ${LINES / 2000} ]; do seq -f 'n%06.0f' $((i*2000+1)) $((i*2000+2000)); i=$((i+1)); sleep 0.02; done
exec sleep 100000
`);
  writeScript(join(svc, 'log', 'run'), `#!/bin/sh\nexec ${process.execPath} ${TETHER} log s16384 l8000 n100000 t ./main\n`);
  // tap injects its process-info hook (NODE_OPTIONS) into every node it sees spawned, and
  // in a supervisor the hook opens fd 1, the log pipe, through libuv: the pipe's write end
  // turns non-blocking for the service too, and seq fails with EAGAIN. A real tree has no
  // hook; `env -u` keeps it out of this one.
  const sc = await startScanner(t, scandir, { prefix: ['env', '-u', 'NODE_OPTIONS', process.execPath, TETHER] });
  const logdir = join(svc, 'log', 'main');
  await waitForPath(join(logdir, 'current'));
  const size = () => {
    try {
      return archives(logdir).length * 100_000 + statSync(join(logdir, 'current')).size;
    } catch {
      return 0;
    }
  };
  const last = `n${String(LINES).padStart(6, '0')}\n`;
  // The last line is in current, or in the newest archive if a rotation followed it.
  const endsWithLast = (f: string) => {
    try {
      return readFileSync(f, 'latin1').endsWith(last);
    } catch {
      return false; // rotated meanwhile
    }
  };
  const done = () => [join(logdir, 'current'), ...archives(logdir).slice(-1).map((a) => join(logdir, a))].some(endsWithLast);

  let restarts = 0;
  const pids = new Set<number>();
  while (restarts < 8 && !done()) {
    const before = size();
    // Something new was logged by this logger instance: restart it mid-stream.
    await waitInDir(logdir, () => size() > before || done(), 'the logger to log something', 60_000);
    pids.add(statusPid(join(svc, 'log')));
    const r = await s6Restart(join(svc, 'log'), '-t', 60_000);
    t.equal(r.code, 0, `restart ${restarts + 1}`);
    restarts++;
  }
  t.ok(restarts >= 3, `${restarts} restarts while the lines flowed`);
  await waitInDir(logdir, done, 'the last line', 120_000);
  t.equal((await sc.stop()).code, 0);

  const lines = stampedLines(logdir);
  const expected = Array.from({ length: LINES }, (_, i) => `n${String(i + 1).padStart(6, '0')}`);
  const firstBad = lines.findIndex((l, i) => l !== expected[i]);
  t.equal(firstBad, -1, firstBad < 0 ? 'every line in order' : `line ${firstBad}: ${JSON.stringify(lines.slice(Math.max(0, firstBad - 2), firstBad + 3))}`);
  t.equal(lines.length, LINES, 'no line lost or repeated');
  if (firstBad >= 0) {
    const gaps: string[] = [];
    let p = 0;
    for (const l of lines) {
      const n = Number(l.slice(1));
      if (n !== p + 1) gaps.push(`${p}->${n}`);
      p = n;
    }
    t.comment(`diagnostic: gaps ${gaps.join(' ')}; svscan: ${sc.output().stderr.slice(0, 3000)}`);
  }
  t.ok(archives(logdir).length > 100, `rotated ${archives(logdir).length} times`);
  t.ok(pids.size >= 3, `${pids.size} logger processes`);
});
