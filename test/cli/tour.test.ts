// README's tour, verbatim: the block between <!-- tour:begin --> and
// <!-- tour:end --> runs in an empty directory with the checkout's bin/ on
// PATH (as an installed tether would be), one sh for the whole block, with
// a marker after each command carrying its exit code.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, alive, run, tempDir } from '../lib/harness';
import { killTree } from '../scan/lib';

/** The commands of README's tour: a heredoc and what it feeds is one command. */
export function tourCommands(readme: string): string[] {
  const block = /<!-- tour:begin -->\n```sh\n([\s\S]*?)```\n<!-- tour:end -->/.exec(readme);
  if (!block) throw new Error('README.md has no tour block');
  const commands: string[] = [];
  const lines = block[1].split('\n').filter((l) => l.trim() !== '');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /<<'?(\w+)'?/.exec(lines[i]);
    if (!heredoc) {
      commands.push(lines[i]);
      continue;
    }
    const end = lines.indexOf(heredoc[1], i + 1);
    commands.push(lines.slice(i, end + 1).join('\n'));
    i = end;
  }
  return commands;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer().once('error', () => res(false)).listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

t.test('the README tour, verbatim', async (t) => {
  const commands = tourCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const port = Number(/PORT=(\d+)/.exec(commands.join('\n'))?.[1]);
  t.ok(await portFree(port), `port ${port}, which the tour uses, is free`);
  const script = commands.map((c, i) => {
    const pid = /&(\s*#.*)?$/.test(c) ? `printf '\\n@@pid %s\\n' "$!"\n` : '';
    return `${c}\n__rc=$?\n${pid}printf '\\n@@step ${i} rc=%s\\n' "$__rc"\n`;
  }).join('');
  const dir = tempDir(t, 'tether-tour-');
  const pids: number[] = [];
  t.teardown(() => {
    // Whatever a failed step left running, by pid: svscan and what it started.
    for (const pid of pids) killTree(pid);
  });
  const r = await run('/bin/sh', ['-c', script], { cwd: dir, env: { ...process.env, PATH: `${join(ROOT, 'bin')}:${process.env.PATH}` }, timeout: 180_000 });
  for (const m of r.stdout.matchAll(/@@pid (\d+)/g)) pids.push(Number(m[1]));
  const steps = new Map<number, { rc: number; out: string }>();
  const rest = r.stdout.replace(/\n@@pid \d+\n/g, '\n');
  for (const m of rest.matchAll(/([\s\S]*?)\n@@step (\d+) rc=(\d+)\n/g)) steps.set(Number(m[2]), { rc: Number(m[3]), out: m[1].replace(/^\n/, '') });
  t.equal(steps.size, commands.length, `every command ran (stderr: ${r.stderr})`);
  commands.forEach((c, i) => t.equal(steps.get(i)?.rc, 0, `exit 0: ${c.split('\n')[0]}`));

  const out = (re: RegExp) => commands.flatMap((c, i) => (re.test(c.split('\n')[0]) ? [steps.get(i)?.out ?? ''] : []));
  t.match(out(/^tether add /)[0], /^tether add: wrote services\/web\/: run, notification-fd, env\/PORT, log\/run\n/);
  const status = out(/^tether status /)[0];
  t.match(status, /^web\s+ready\s+\d+\s+\d+s\s+yes\s/m, 'status: web is ready');
  t.match(status, /^web\/log\s+up\s+\d+/m, 'status: its logger is up');
  const answers = out(/^curl /);
  t.equal(answers.length, 2);
  const [first, second] = answers.map((a) => Number(/^hello from (\d+)$/.exec(a.trim())?.[1]));
  t.ok(first > 0 && second > 0 && first !== second, `the restart gave a new process (${first} then ${second})`);
  t.match(out(/^tether tai64nlocal /)[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{9} listening on ${port}$`, 'm'), 'the log, with local times');
  t.equal(pids.length, 1, 'one background process: svscan');
  for (const pid of pids) t.notOk(alive(pid), `svscan (pid ${pid}) has exited`);
  t.ok(await portFree(port), 'nothing listens on the port any more');
});
