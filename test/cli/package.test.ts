// What `npm pack` ships: only runtime files, and they work as installed:
// `tether --help`, require('tether-supervisor'), a supervisor, and the
// example tree's run scripts finding `tether` on PATH.
import t from 'tap';
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, exitOf, run, startProcess, tempDir, waitForFile } from '../lib/harness';
import { PACKAGE, installTarball, packTarball } from '../lib/packed';

const ALLOWED = [
  /^package\.json$/, /^README\.md$/, /^LICENSE$/,
  /^bin\/tether(\.js)?$/,
  /^build\/cli\/[a-z0-9-]+\.js$/, /^build\/index\.js$/, /^build\/types\/.+\.d\.ts$/,
  /^servicedirs-example\/(README\.md|[a-z]+\/(run|down|notification-fd|pidfile|[a-z]+\.js)|[a-z]+\/log\/run)$/,
];

t.test('npm pack --dry-run lists only runtime files', async (t) => {
  const r = await run('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: ROOT, timeout: 120_000 });
  t.equal(r.code, 0, r.stderr);
  const [info] = JSON.parse(r.stdout) as Array<{ name: string; files: Array<{ path: string }> }>;
  t.equal(info.name, PACKAGE);
  const files = info.files.map((f) => f.path);
  t.same(files.filter((f) => !ALLOWED.some((re) => re.test(f))), [], 'nothing outside the runtime files');
  for (const must of ['bin/tether.js', 'build/index.js', 'build/types/index.d.ts', 'build/cli/svscan.js', 'build/cli/supervise.js', 'build/cli/log.js', 'servicedirs-example/web/log/run']) {
    t.ok(files.includes(must), `ships ${must}`);
  }
  t.notOk(files.some((f) => f.endsWith('.map') || f.startsWith('build/test/') || f.startsWith('src/') || f.startsWith('test/')), 'no source maps, sources or tests');
});

t.test('installed from the tarball: the command, the API, a supervisor', async (t) => {
  const { prefix, pkg, bin } = await installTarball(await packTarball(t), tempDir(t));
  const env = { ...process.env, PATH: `${bin}:/usr/bin:/bin` };
  const help = await run('tether', ['--help'], { env, cwd: prefix });
  t.equal(help.code, 0, help.stderr);
  t.match(help.stdout, /^usage: tether COMMAND/);
  const api = await run(process.execPath, ['-e', "const m = require('tether-supervisor'); console.log(typeof m.svc, typeof m.svstat, typeof m.spawnTree)"], { cwd: prefix });
  t.equal(api.stdout, 'function function function\n', api.stderr);
  const types = readFileSync(join(pkg, JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).types), 'utf8');
  t.match(types, /svc/, 'the types named by package.json are there');

  for (const run of readdirSync(join(pkg, 'servicedirs-example'), { recursive: true }) as string[]) {
    if (run.endsWith('/run')) t.equal(statSync(join(pkg, 'servicedirs-example', run)).mode & 0o111, 0o111, `${run} is executable`);
  }
  t.match(readFileSync(join(pkg, 'servicedirs-example', 'web', 'log', 'run'), 'utf8'), /\nexec tether log /, 'log/run calls tether from PATH');
  const which = await run('/bin/sh', ['-c', 'command -v tether'], { env });
  t.equal(which.stdout.trim(), join(bin, 'tether'), 'a run script finds the installed tether');

  const svc = join(tempDir(t), 'svc');
  const add = await run('tether', ['add', 'one', '--dir', svc, '--', 'sleep', '1000'], { env });
  t.equal(add.code, 0, add.stderr);
  const supervisor = startProcess(t, join(bin, 'tether'), ['supervise', join(svc, 'one')], { env, stdio: 'ignore' });
  const exit = exitOf(supervisor);
  await waitForFile(join(svc, 'one', 'supervise', 'status'));
  t.equal((await run('tether', ['svwait', '-u', '-t', '30000', join(svc, 'one')], { env })).code, 0, 'the installed supervisor runs the service');
  t.equal((await run('tether', ['svc', '-wD', '-T', '30000', '-dx', join(svc, 'one')], { env })).code, 0, 'and stops it');
  t.same(await exit, { code: 0, signal: null }, 'then exits 0');
});
