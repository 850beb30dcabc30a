// spawnProgram's fds: the child gets exactly the mapping asked for, whether a
// target is free (one dup2 each), the fd itself (close-on-exec cleared), or
// another mapping's source (two phases through spare numbers). Observed from
// the child: bash writes a line to each fd it was given.
import t from 'tap';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnProgram } from '../../src/os/native';
import { reaper } from '../../src/os/reaper';
import { BOUND_MS, bounded, tempDir } from '../lib/harness';

reaper.start({ subreaper: false });

/** Runs bash `script` with `fds`, and resolves with its wait status once it is reaped. */
function run(script: string, fds: Map<number, number>): Promise<number> {
  const pid = spawnProgram({ path: '/bin/bash', argv: ['bash', '-c', script], env: process.env, fds });
  return bounded(new Promise<number>((res) => reaper.watch(pid, (_p, wstat) => res(wstat))), BOUND_MS, `exit of bash ${pid}`);
}

t.test('targets that are no source: each fd where it was asked for', async (t) => {
  const dir = tempDir(t);
  const out = openSync(join(dir, 'out'), 'w');
  const extra = openSync(join(dir, 'extra'), 'w');
  t.teardown(() => [out, extra].forEach((fd) => closeSync(fd)));
  t.equal(await run('echo one; echo three >&3; if [ -e /proc/self/fd/4 ]; then echo leaked; fi', new Map([[1, out], [3, extra]])), 0);
  t.equal(readFileSync(join(dir, 'out'), 'utf8'), 'one\n', 'fd 1');
  t.equal(readFileSync(join(dir, 'extra'), 'utf8'), 'three\n', 'fd 3, and nothing else past 2');
});

t.test('an fd given as itself reaches the child, though ours is close-on-exec', async (t) => {
  const dir = tempDir(t);
  const fd = openSync(join(dir, 'same'), 'w'); // Node opens with O_CLOEXEC
  t.teardown(() => closeSync(fd));
  t.equal(await run(`echo same >&${fd}`, new Map([[fd, fd]])), 0);
  t.equal(readFileSync(join(dir, 'same'), 'utf8'), 'same\n');
});

t.test('targets that are other mappings\' sources: swapped, not overwritten', async (t) => {
  const dir = tempDir(t);
  const a = openSync(join(dir, 'a'), 'w');
  const b = openSync(join(dir, 'b'), 'w');
  t.teardown(() => [a, b].forEach((fd) => closeSync(fd)));
  t.equal(await run(`echo to-b >&${a}; echo to-a >&${b}`, new Map([[a, b], [b, a]])), 0);
  t.equal(readFileSync(join(dir, 'a'), 'utf8'), 'to-a\n', `fd ${b} in the child is our ${a}`);
  t.equal(readFileSync(join(dir, 'b'), 'utf8'), 'to-b\n', `fd ${a} in the child is our ${b}`);
});
