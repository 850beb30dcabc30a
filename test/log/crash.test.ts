// SIGKILL at each step of a rotation, injected from outside by strace (the
// kill lands on entry to the step's system call, so the step never runs):
// the next start recovers the logdir as s6-log does, and no line is torn,
// lost from disk or repeated.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TETHER, tempDir } from '../lib/harness';
import { HAVE_S6_LOG, archives, layout, logdirBytes, s6Log, tetherLog } from './lib';

const HAVE_STRACE = existsSync('/usr/bin/strace');
const INPUT = Array.from({ length: 300 }, (_, i) => `line ${i}`).join('\n') + '\n'; // one rotation at s4096

const SYSCALLS: Record<string, string> = {
  fsync: 'fsync,fdatasync',
  rename: 'rename,renameat,renameat2',
  chmod: 'chmod,fchmodat',
  link: 'link,linkat',
  unlink: 'unlink,unlinkat',
};

/** [what, script, syscall, nth occurrence] */
const POINTS: Array<[string, string[], string, number]> = [
  ['before fsync of current', [], 'fsync', 1],
  ['before current is renamed to previous', [], 'rename', 1],
  ['before previous is marked u+x (new current open)', [], 'chmod', 1],
  ['before previous is linked as an archive', [], 'link', 1],
  ['before previous is unlinked (archive linked)', [], 'unlink', 1],
  ['processor done, before processed is synced', ['?cat'], 'fsync', 2],
  ['before previous is unlinked (processed synced)', ['?cat'], 'unlink', 1],
  ['before newstate becomes state', ['?cat'], 'rename', 2],
  ['before processed is linked as an archive', ['?cat'], 'link', 1],
  ['before processed is unlinked (archive linked)', ['?cat'], 'unlink', 2],
];

for (const [what, processor, syscall, nth] of POINTS) {
  t.test(`SIGKILL ${what}`, { skip: (!HAVE_STRACE && 'no strace') || (!HAVE_S6_LOG && 'no s6-log') }, async (t) => {
    const root = tempDir(t);
    const dir = join(root, 'log');
    t.equal((await tetherLog([dir], '')).code, 0, 'a logdir, finished cleanly');
    const set = SYSCALLS[syscall];
    const killed = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', `trace=${set}`, '-e', `inject=${set}:error=EIO:signal=SIGKILL:when=${nth}`,
      process.execPath, TETHER, 'log', 's4096', ...processor, dir], { input: INPUT, timeout: 60_000 });
    t.equal(killed.signal ?? (killed.status === 137 ? 'SIGKILL' : killed.status), 'SIGKILL', 'killed at that step');

    const copy = join(root, 's6');
    // cp -a keeps hard links: an archive linked but not yet unlinked as processed is one file.
    t.equal(spawnSync('cp', ['-a', dir, copy]).status, 0);
    const r = await tetherLog(['s4096', ...processor, dir], '');
    t.equal(r.code, 0, `tether log starts on it: ${r.stderr}`);
    for (const f of ['previous', 'processed', 'newstate']) t.notOk(existsSync(join(dir, f)), `no ${f} left`);
    const lines = logdirBytes(dir).toString().split('\n');
    t.equal(lines.pop(), '', 'ends at a line end');
    const expected = INPUT.split('\n').slice(0, lines.length);
    t.same(lines, expected, `${lines.length} lines, in order, none torn or repeated`);
    t.ok(lines.length >= 200, 'what reached the disk before the kill is kept');

    const s6 = await s6Log(['s4096', ...processor.map((p) => p.replace('?', '!')), copy], '');
    if (s6.code === 0) {
      // Debian's 2.11 archives an empty current as an empty .u; newest s6-log, as tether, removes it.
      for (const n of archives(copy)) if (statSync(join(copy, n)).size === 0) unlinkSync(join(copy, n));
      t.same(layout(dir), layout(copy), 'the layout s6-log makes of it');
      t.equal(logdirBytes(dir).toString(), logdirBytes(copy).toString(), 'the content s6-log keeps');
    } else {
      // Debian's 2.11 stamps two archives made at start-up with one cached time and dies on EEXIST.
      t.match(s6.stderr, /File exists/, `s6-log 2.11 fails only on its stamp collision: ${s6.stderr.trim()}`);
    }
  });
}
