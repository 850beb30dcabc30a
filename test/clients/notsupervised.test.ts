// "Not supervised" in one form from every client: it names the directory and
// says whether it is missing, is no service directory, or has no supervisor
// running. Each client keeps the newest s6's exit code for it.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeService, tempDir, tether } from '../lib/harness';

t.test('every client says why a directory is not supervised, in the same words', async (t) => {
  const base = tempDir(t);
  const missing = join(base, 'wbe');
  const plain = join(base, 'plain');
  mkdirSync(plain);
  const idle = makeService(join(base, 'idle'), 'exec sleep 1000');
  const why: Record<string, string> = {
    [missing]: `not supervised: ${missing} does not exist`,
    [plain]: `not supervised: ${plain} is not a service directory (no run file)`,
    [idle]: `not supervised: no supervisor is running on ${idle}`,
  };
  const clients: Array<[string, string[], number]> = [
    ['svc', ['-u'], 102],
    ['svstat', [], 1],
    ['svwait', ['-u', '-t', '1000'], 111],
    ['svlisten', ['-u'], 111],
    ['svdt', [], 111],
  ];
  for (const dir of [missing, plain, idle]) {
    for (const [client, args, code] of clients) {
      const argv = client === 'svlisten' ? [client, ...args, dir, '--', 'true'] : [client, ...args, dir];
      const r = await tether(argv);
      t.equal(r.code, code, `${client} on ${dir}: exit ${code}`);
      t.equal(r.stderr, `tether ${client}: fatal: ${why[dir]}\n`, `${client}: ${why[dir]}`);
    }
  }
  const r = await tether(['status', missing]);
  t.equal(r.code, 111, 'status on a missing directory: 111');
  t.equal(r.stderr, `tether status: fatal: ${why[missing]}\n`);
});
