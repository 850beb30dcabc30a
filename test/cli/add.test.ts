// tether add: the service directory it writes runs under a real supervisor
// (env/, --cwd, quoting, readiness, the logger's script), and bad requests
// are refused without leaving anything behind.
import t from 'tap';
import { lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript } from '../../src/servicedir/create';
import { makeService, run, tempDir, tether, waitForFile } from '../lib/harness';
import { SUPERVISORS, mustRun, s6, supervise } from '../clients/lib';

// Records what it got, reports readiness on fd 3, then stays up.
const PROBE = `const fs = require('fs');
fs.writeFileSync(process.env.OUT_FILE + '.new', JSON.stringify({ env: { PORT: process.env.PORT, SPACED: process.env.SPACED, EMPTY: process.env.EMPTY, UNSET: process.env.UNSET }, cwd: process.cwd(), argv: process.argv.slice(1) }));
fs.renameSync(process.env.OUT_FILE + '.new', process.env.OUT_FILE);
fs.writeSync(3, '\\n');
setInterval(() => {}, 1e9);`;

for (const sup of SUPERVISORS) {
  t.test(`the written directory runs under ${sup.name}`, { skip: sup.missing ?? false }, async (t) => {
    const base = tempDir(t);
    const scan = join(base, 'services');
    const work = join(base, 'work dir');
    mkdirSync(work);
    const out = join(base, 'out.json');
    const tricky = `it's "quoted" $HOME \`x\` \\ ; *`;
    const r = await tether(['add', 'probe', '--dir', scan, '--env', 'PORT=8080', '--env', `OUT_FILE=${out}`, '--env', 'SPACED=a b  ', '--env', 'EMPTY=',
      '--cwd', work, '--notify', '--', process.execPath, '-e', PROBE, tricky, '']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^tether add: wrote .*services\/probe\/: run, notification-fd, env\/PORT, env\/OUT_FILE, env\/SPACED, env\/EMPTY\n/);
    t.match(r.stdout, new RegExp(`tether svscan ${scan}\\n`), 'says how to start it');
    const dir = join(scan, 'probe');
    t.equal(statSync(join(dir, 'run')).mode & 0o777, 0o755);
    t.equal(readFileSync(join(dir, 'notification-fd'), 'latin1'), '3\n');
    t.same(readdirSync(scan), ['probe'], 'nothing else left in the scan directory');

    // An empty file unsets a variable the supervisor passes down.
    writeFileSync(join(dir, 'env', 'UNSET'), '');
    process.env.UNSET = 'inherited';
    t.teardown(() => delete process.env.UNSET);
    await supervise(t, sup, dir);
    await mustRun(s6('s6-svwait'), ['-U', '-t', '20000', dir]);
    await waitForFile(out);
    const got = JSON.parse(readFileSync(out, 'utf8'));
    t.same(got.env, { PORT: '8080', SPACED: 'a b', EMPTY: '' }, 'env/: first line, trailing blanks removed; an empty file unsets');
    t.equal(got.cwd, work, '--cwd');
    t.same(got.argv.slice(-2), [tricky, ''], 'every word arrives as given');
  });
}

t.test('--log writes a log/run that calls tether from PATH', async (t) => {
  const scan = tempDir(t);
  const r = await tether(['add', 'web', '--dir', scan, '--log', '--', 'node', 'server.js']);
  t.equal(r.code, 0, r.stderr);
  const logRun = readFileSync(join(scan, 'web', 'log', 'run'), 'latin1');
  t.match(logRun, /\nexec tether log t s1000000 n10 \.\/main\n$/);
  t.equal(statSync(join(scan, 'web', 'log', 'run')).mode & 0o777, 0o755);
  t.match(readFileSync(join(scan, 'web', 'run'), 'latin1'), /\nexec 2>&1\n(?:[\s\S]*\n)?exec node server\.js\n$/, 'stderr joins the log');
  t.notMatch(readFileSync(join(scan, 'web', 'run'), 'latin1'), /env/, 'no env reader without --env');
});

t.test('defaults: TETHER_SCANDIR, else ./services', async (t) => {
  const cwd = tempDir(t);
  t.equal((await tether(['add', 'a', '--', 'true'], { cwd, env: { ...process.env, TETHER_SCANDIR: '' } })).code, 0);
  t.ok(lstatSync(join(cwd, 'services', 'a', 'run')).isFile(), './services');
  t.equal((await tether(['add', 'b', '--', 'true'], { cwd, env: { ...process.env, TETHER_SCANDIR: join(cwd, 'elsewhere') } })).code, 0);
  t.ok(lstatSync(join(cwd, 'elsewhere', 'b', 'run')).isFile(), 'TETHER_SCANDIR');
});

t.test('refusals: existing names, bad names, bad variables, no command, symlinks', async (t) => {
  const scan = tempDir(t);
  makeService(join(scan, 'taken'), 'exec sleep 1');
  symlinkSync('/tmp', join(scan, 'link'));
  writeFileSync(join(scan, 'file'), 'x');
  const add = (...args: string[]) => tether(['add', ...args]);
  for (const name of ['taken', 'link', 'file']) {
    const r = await add(name, '--dir', scan, '--', 'true');
    t.equal(r.code, 111, `${name}: exists`);
    t.match(r.stderr, `tether add: fatal: ${join(scan, name)} already exists`);
  }
  t.equal(readFileSync(join(scan, 'taken', 'run'), 'latin1').includes('sleep 1'), true, 'the existing one is untouched');
  for (const name of ['.hidden', 'a/b', '-x', '..', 'sp ace', 'x'.repeat(200)]) {
    t.equal((await add(name, '--dir', scan, '--', 'true')).code, 100, `name ${JSON.stringify(name.slice(0, 12))}`);
  }
  t.equal((await add('ok', '--dir', scan, '--env', 'BAD-NAME=1', '--', 'true')).code, 100, 'bad variable name');
  t.equal((await add('ok', '--dir', scan, '--env', 'NOEQ', '--', 'true')).code, 100, '--env without =');
  t.equal((await add('ok', '--dir', scan, '--env', 'A=x\ny', '--', 'true')).code, 100, 'a newline in a value');
  t.equal((await add('ok', '--dir', scan)).code, 100, 'no command');
  t.equal((await add('ok', '--dir', scan, '--')).code, 100, 'empty command');
  t.equal((await add('--dir', scan, '--', 'true')).code, 100, 'no name');
  t.equal((await add('ok', 'extra', '--dir', scan, '--', 'true')).code, 100, 'a stray word');
  t.equal((await add('ok', '--bogus', '--', 'true')).code, 100, 'unknown option');
  t.same(readdirSync(scan).sort(), ['file', 'link', 'taken'], 'nothing written, no temporary directory left');
  const help = await add('--help');
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: tether add NAME /);
});

t.test('run scripts are valid sh for any word', async (t) => {
  const words = ['a', "'", '"', '$(id)', '`id`', '\\', '\n', ' ', '*', '', 'é', '-n'];
  const script = runScript({ scandir: '/x', name: 'x', command: ['printf', '[%s]', ...words] });
  const r = await run('/bin/sh', ['-c', script.replace(/^#!.*\n/, '')]);
  t.equal(r.stdout, words.map((w) => `[${w}]`).join(''), 'printf receives every word unchanged');
});
