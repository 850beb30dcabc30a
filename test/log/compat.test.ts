// tether log beside Debian's s6-log (2.11), same script and same input: the
// same bytes in current (stamps masked), on stdout, in status files and
// alerts; the same exit codes for bad scripts; the same trimming and the
// same recovery of an interrupted logdir.
import t from 'tap';
import { chmodSync, cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { tempDir, waitForFile, type Teardown } from '../lib/harness';
import { HAVE_S6_LOG, archives, layout, logdirBytes, mask, s6Log, tetherLog } from './lib';

const skip = !HAVE_S6_LOG && 'no s6-log';

const INPUT = ['alpha one', 'beta two', 'x marks', 'error: disk', 'STAT 42', '', 'y', 'error: again', 'plain ending'].join('\n') + '\n';

/** Runs both loggers with `script`, where `@` stands for a fresh directory each. */
async function both(t: Teardown, script: string[], input: string | Buffer, opts: string[] = []) {
  const root = tempDir(t);
  const res = [];
  for (const [name, run] of [['s6', s6Log], ['tether', tetherLog]] as const) {
    const dir = join(root, name);
    mkdirSync(dir);
    const r = await run([...opts, '--', ...script.map((w) => w.replace('@', dir))], input, { cwd: dir });
    res.push({ dir, ...r });
  }
  return { s6: res[0], tether: res[1] };
}

const SCRIPTS: Array<[string, string[]]> = [
  ['a TAI64N stamp', ['t', '@/d']],
  ['a local stamp, then a prefix after it', ['T', 'pweb:', '@/d']],
  ['both stamps; t and T apply to the next action only', ['T', 't', '@/d', '@/e']],
  ['selection carries over from one element to the next', ['-^x', '@/a', '+^x', '@/b']],
  ['f takes what no action took', ['-', '+^error', '@/err', 'f', '@/rest']],
  ['deselect everything, select by regex classes', ['-', '+^[[:alpha:]]+ [[:digit:]]+$', '@/d', '-.*', '+^(alpha|beta)', '@/e']],
  ['prefix cleared by a lone p', ['pone', '@/a', 'p', '@/b']],
];

for (const [what, script] of SCRIPTS) {
  t.test(`same current bytes: ${what}`, { skip }, async (t) => {
    const { s6, tether } = await both(t, script, INPUT);
    t.equal(tether.code, 0, tether.stderr);
    t.equal(s6.code, 0, s6.stderr);
    for (const d of script.filter((w) => w.startsWith('@')).map((w) => w.slice(1))) {
      const a = mask(readFileSync(join(s6.dir, d, 'current'), 'latin1'));
      const b = mask(readFileSync(join(tether.dir, d, 'current'), 'latin1'));
      t.equal(b, a, `${d}/current`);
    }
  });
}

t.test('stdout (1), alerts (2, E) and status files (=, ^) as s6-log writes them', { skip }, async (t) => {
  const script = ['E6', '-', '+^error', 't', '2', '-', '+^STAT', '^20', '=@/status', '^0', '=@/whole', 'f', 'T', 'pout', '1'];
  const { s6, tether } = await both(t, script, INPUT);
  t.equal(tether.code, 0, tether.stderr);
  t.equal(mask(tether.stdout.toString('latin1')), mask(s6.stdout.toString('latin1')), 'stdout');
  t.equal(mask(tether.stderr.replace(/tether log: /g, 'PROG: ')), mask(s6.stderr.replace(/s6-log: /g, 'PROG: ')), 'alerts');
  for (const f of ['status', 'whole']) t.equal(readFileSync(join(tether.dir, f), 'latin1'), readFileSync(join(s6.dir, f), 'latin1'), f);
  t.equal(readFileSync(join(tether.dir, 'status')).length, 20, 'padded to ^20');
});

t.test('-l splits long lines exactly as s6-log; -l0 never splits', { skip }, async (t) => {
  const input = `${'a'.repeat(250)}\n${'b'.repeat(100)}\n${'c'.repeat(101)}\nshort\n`;
  for (const opts of [['-l', '100'], ['-l', '10'], ['-l', '0']]) {
    const { s6, tether } = await both(t, ['@/d'], input, opts);
    t.equal(readFileSync(join(tether.dir, 'd', 'current'), 'latin1'), readFileSync(join(s6.dir, 'd', 'current'), 'latin1'), opts.join(' '));
  }
});

t.test('bad scripts and options: exit 100 from both', { skip }, async (t) => {
  const bad = [['foo'], [''], ['ff', '1'], ['tt', '1'], ['12'], ['='], ['nx', '1'], ['n', '1'], ['s4096', 'l3000', '1'], ['+(', '1'], ['n5', 't'], ['e'], ['n99999999999', '1']];
  for (const script of bad) {
    const { s6, tether } = await both(t, script, '');
    t.equal(s6.code, 100, `s6-log ${JSON.stringify(script)}`);
    t.equal(tether.code, 100, `tether log ${JSON.stringify(script)}: ${tether.stderr.trim()}`);
  }
  for (const opts of [['-d', '1'], ['-d', 'x'], ['-d', '200'], ['-l', 'x']]) {
    const { s6, tether } = await both(t, ['1'], '', opts);
    t.equal(s6.code, 100, `s6-log ${opts.join(' ')}`);
    t.equal(tether.code, 100, `tether log ${opts.join(' ')}: ${tether.stderr.trim()}`);
  }
  const ok = [['s1', 'l2048', '1'], ['1', 'n5'], ['-l', '1', '1'], ['!gzip', '1']];
  for (const script of ok) {
    const { s6, tether } = await both(t, script, 'x\n');
    t.equal(s6.code, 0, `s6-log ${JSON.stringify(script)}`);
    t.equal(tether.code, 0, `tether log ${JSON.stringify(script)}: ${tether.stderr.trim()}`);
  }
});

t.test('rotation and trimming: n keeps the newest archives, S bounds their total; names are @TAI64N.s', { skip }, async (t) => {
  const input = Array.from({ length: 20000 }, (_, i) => `line ${i}`).join('\n') + '\n';
  for (const script of [['n3', 's4096', '@/d'], ['n1000', 's4096', 'S20000', '@/d'], ['n0', 's4096', '@/d']]) {
    const { s6, tether } = await both(t, script, input);
    t.equal(tether.code, 0);
    for (const r of [s6, tether]) {
      const d = join(r.dir, 'd');
      const names = archives(d);
      const all = logdirBytes(d).toString();
      t.ok(input.endsWith(all), `${script.join(' ')}: what is kept is the end of the input, whole lines`);
      t.ok(names.every((n) => n.endsWith('.s')), 'every archive is .s');
      if (script[0] === 'n3') t.equal(names.length, 3, 'n3: three archives');
      if (script[0] === 'n0') t.equal(names.length, 0, 'n0: none');
      if (script[2] === 'S20000') t.ok(names.reduce((s, n) => s + statSync(join(d, n)).size, 0) <= 20000, 'S20000: at most 20000 bytes');
      for (const n of names) t.equal(statSync(join(d, n)).mode & 0o100, 0o100, `${n} is u+x`);
    }
    // s6-log writes whatever it has read before it rotates, so its archives pass s by up to a
    // read; tether's stop at the first line past s - l. With n alone the files are the same.
    if (!script.includes('S20000')) t.same(layout(join(tether.dir, 'd')), layout(join(s6.dir, 'd')), `${script.join(' ')}: the same files`);
  }
});

/**
 * Logdirs as an interrupted logger leaves them, at each point of a rotation.
 * Where Debian's 2.11 differs from newest s6-log, the layout newest s6-log's
 * code gives is spelled out instead: 2.11 archives an empty file (newest
 * removes it), and stamps two archives of one start-up with the same cached
 * time, so with both `previous` and `current` to archive it dies on EEXIST.
 */
const CRASHED: Array<[string, Record<string, [string, boolean]>, string[]?]> = [
  ['current in use', { current: ['a\nb\n', false] }],
  ['current finished cleanly', { current: ['a\nb\n', true], state: ['', false] }],
  ['renamed to previous, no new current yet', { previous: ['p1\n', false] }],
  ['previous marked, new current', { previous: ['p1\n', true], current: ['c1\n', false] }, ['@TAI64N.u', '@TAI64N.u*', 'current*', 'lock', 'state']],
  ['processor running', { previous: ['p1\n', true], processed: ['half', false], newstate: ['ns', false], state: ['old', false], current: ['c1\n', false] }, ['@TAI64N.u', '@TAI64N.u*', 'current*', 'lock', 'state']],
  ['processor done, processed marked', { previous: ['p1\n', true], processed: ['P1\n', true], newstate: ['ns', false], state: ['old', false], current: ['c1\n', false] }],
  ['state renamed, processed left', { processed: ['P1\n', true], state: ['ns', false], current: ['c1\n', false] }],
  ['empty current', { current: ['', false] }, ['current*', 'lock', 'state']],
];

for (const [what, files, newest] of CRASHED) {
  t.test(`recovery at start as s6-log's: ${what}`, { skip }, async (t) => {
    const root = tempDir(t);
    const seed = join(root, 'seed');
    mkdirSync(seed);
    for (const [name, [content, x]] of Object.entries(files)) {
      writeFileSync(join(seed, name), content);
      chmodSync(join(seed, name), x ? 0o744 : 0o644);
    }
    const res: string[] = [];
    for (const [name, run] of [['s6', s6Log], ['tether', tetherLog]] as const) {
      const dir = join(root, name);
      cpSync(seed, dir, { recursive: true });
      const r = await run([dir], 'new\n');
      if (name === 'tether' || !newest) t.equal(r.code, 0, `${name}: ${r.stderr}`);
      res.push(dir);
    }
    if (newest) {
      t.same(layout(res[1]), newest, 'the layout newest s6-log leaves');
      const order = archives(res[1]).map((n) => readFileSync(join(res[1], n), 'latin1'));
      t.same(order, Object.entries(files).filter(([n, [c]]) => (n === 'previous' || n === 'current') && c !== '').map(([, [c]]) => c).sort((a) => (a.startsWith('p') ? -1 : 1)), 'previous archived before current');
      return;
    }
    t.same(layout(res[1]), layout(res[0]), 'the same files, the same u+x bits');
    t.equal(logdirBytes(res[1]).toString(), logdirBytes(res[0]).toString(), 'the same content, in the same order');
    t.equal(readFileSync(join(res[1], 'state'), 'latin1'), readFileSync(join(res[0], 'state'), 'latin1'), 'the same state');
  });
}

t.test('a held lock: both exit 111', { skip }, async (t) => {
  const root = tempDir(t);
  const holder = spawn('/usr/bin/s6-log', [join(root, 'd')], { stdio: ['pipe', 'ignore', 'ignore'] });
  t.teardown(() => holder.kill('SIGKILL'));
  await waitForFile(join(root, 'd', 'current'));
  t.equal((await tetherLog([join(root, 'd')], 'x\n')).code, 111, 'tether log');
  t.equal((await s6Log([join(root, 'd')], 'x\n')).code, 111, 's6-log');
  holder.stdin.end();
});
