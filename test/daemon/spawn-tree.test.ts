import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTree } from '../../src/daemon/tree';
import { ROOT, alive, bounded, startProcess, tempDir, waitForFile, waitForOutput, zombiesOf } from '../lib/harness';
import { killPidAtTeardown } from './fixtures';

/** A program whose grandchild daemonizes (fork, setsid, fork) and writes its pid to FILE. */
function daemonizing(file: string, extra = ''): string[] {
  return ['sh', '-c', `setsid sh -c '${extra} sleep 1000 </dev/null & echo $! > "$0.tmp"; mv "$0.tmp" "$0"' "${file}"; exec sleep 1000`];
}

t.test('close() ends the program and the daemon it double-forked', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'daemon.pid');
  const tree = await spawnTree(daemonizing(file), { stdio: 'ignore' });
  t.teardown(() => tree.close());
  killPidAtTeardown(t, tree.pid);
  await waitForFile(file);
  const daemon = Number(readFileSync(file, 'utf8'));
  killPidAtTeardown(t, daemon);
  t.ok(alive(daemon) && alive(tree.pid), 'both run');
  t.not(daemon, tree.pid);
  await bounded(tree.close(), 30_000, 'close()');
  t.notOk(alive(daemon), 'the daemon is gone');
  t.notOk(alive(tree.pid), 'the program is gone');
  t.same(await tree.exited, { code: null, signal: 'SIGTERM' });
  t.notOk(alive(tree.keeperPid));
});

t.test("the death of the owner by SIGKILL ends the whole tree", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'daemon.pid');
  const owner = startProcess(t, process.execPath, ['-e', `
const { spawnTree } = require(${JSON.stringify(join(ROOT, 'build', 'index.js'))});
spawnTree(${JSON.stringify(daemonizing(file))}).then((h) => console.log('tree', h.keeperPid, h.pid));
`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [, keeper, prog] = (await waitForOutput(owner, /^tree /)).split(' ').map(Number);
  killPidAtTeardown(t, keeper);
  killPidAtTeardown(t, prog);
  await waitForFile(file);
  const daemon = Number(readFileSync(file, 'utf8'));
  killPidAtTeardown(t, daemon);
  t.ok(alive(daemon));
  // The keeper, the program and the daemon all hold the owner's stdout: EOF means all are dead.
  const eof = new Promise<void>((res) => owner.stdout!.on('end', res).resume());
  process.kill(owner.pid!, 'SIGKILL');
  await bounded(eof, 30_000, 'every holder of the owner stdout to die');
  for (const [name, pid] of [['keeper', keeper], ['program', prog], ['daemon', daemon]] as const) t.notOk(alive(pid), `${name} is gone`);
});

t.test('a descendant that ignores TERM is killed after the grace', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'daemon.pid');
  const tree = await spawnTree(daemonizing(file, "trap \"\" TERM;"), { stdio: 'ignore', graceMs: 300 });
  t.teardown(() => tree.close());
  killPidAtTeardown(t, tree.pid);
  await waitForFile(file);
  const daemon = Number(readFileSync(file, 'utf8'));
  killPidAtTeardown(t, daemon);
  const ignored = BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${daemon}/status`, 'latin1'))![1]}`);
  t.ok(ignored & (1n << 14n), 'the daemon ignores TERM (signal 15)');
  await bounded(tree.close(), 30_000, 'close()');
  t.notOk(alive(daemon), 'killed');
});

t.test('a program that exits with nothing left behind: its status, and the keeper leaves', async (t) => {
  const tree = await spawnTree(['sh', '-c', 'exit 7'], { stdio: 'ignore' });
  t.same(await bounded(tree.exited, 30_000, 'exit'), { code: 7, signal: null });
  await bounded(tree.close(), 30_000, 'close()');
  t.notOk(alive(tree.keeperPid));
  t.same(zombiesOf(process.pid).filter((p) => p === tree.keeperPid), []);
});

t.test('pipes reach the program; spawn failures reject', async (t) => {
  const tree = await spawnTree(['sh', '-c', 'read line; echo "got $line"'], { stdio: 'pipe' });
  tree.stdin!.end('hello\n');
  let out = '';
  tree.stdout!.on('data', (c) => (out += c));
  t.same(await bounded(tree.exited, 30_000, 'exit'), { code: 0, signal: null });
  await tree.close();
  t.equal(out, 'got hello\n');
  await t.rejects(spawnTree(['/nonexistent/program']), { code: 'ENOENT' });
  await t.rejects(spawnTree([]), TypeError);
});
