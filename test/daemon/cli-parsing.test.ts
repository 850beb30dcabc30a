import t from 'tap';
import { HelpRequested, letters, parseDuration, parseOptions, parseUint } from '../../src/base/getopt';

t.test('durations', async (t) => {
  const cases: [string, number | null][] = [
    ['500ms', 500], ['5s', 5000], ['1m', 60_000], ['1h', 3_600_000], ['1m30s', 90_000], ['1.5s', 1500], ['0s', 0],
    ['5', null], ['', null], ['s', null], ['-1s', null], ['1d', null], ['1 s', null], ['1000h', null],
  ];
  for (const [text, ms] of cases) t.equal(parseDuration(text), ms, JSON.stringify(text));
});

t.test('options: short, long, inline values, --, stop at the first operand', async (t) => {
  const spec = { timeout: { short: 't', value: true }, quiet: { short: 'q', value: false }, 'show-stacks': { value: false } };
  let p = parseOptions(['-t500', '--show-stacks', 'pidfile', 'prog', '-t', '9'], spec, 'posix');
  t.same([...p.options], [['timeout', '500'], ['show-stacks', true]]);
  t.same(p.operands, ['pidfile', 'prog', '-t', '9'], "PROG's own options are left alone");
  p = parseOptions(['a', '--timeout=5s', 'b', '-q', '--', '-t'], spec, 'anywhere');
  t.same([...p.options], [['timeout', '5s'], ['quiet', true]]);
  t.same(p.operands, ['a', 'b', '-t']);
  p = parseOptions(['-qt', '7', 'x'], spec, 'posix');
  t.same([...p.options], [['quiet', true], ['timeout', '7']]);
  for (const bad of [['-x'], ['--nope'], ['-t'], ['--timeout'], ['--help=1'], ['--quiet=1']]) {
    t.throws(() => parseOptions(bad, spec, 'posix'), { name: 'UsageError' }, bad.join(' '));
  }
  t.equal(parseUint('42', 'n'), 42);
  t.throws(() => parseUint('4x', 'n'), { name: 'UsageError' });
  t.throws(() => parseUint(undefined, 'n'), { name: 'UsageError' });
});

t.test('--help is an option of every spec; -h too, unless the spec gives -h a meaning', async (t) => {
  const spec = { timeout: { short: 't', value: true } };
  for (const argv of [['--help'], ['-h'], ['-t', '5', '-h', 'x'], ['x', '--help']]) {
    t.throws(() => parseOptions(argv, spec, 'posix-long'), HelpRequested, argv.join(' '));
  }
  t.same(parseOptions(['x', '--help'], spec, 'posix').operands, ['x', '--help'], 'after the first operand of a wrapper, it is PROG\'s');
  t.same(parseOptions(['--', '--help'], spec, 'anywhere').operands, ['--help'], 'after --, an operand');
  t.throws(() => parseOptions(['--help', '-Z'], spec, 'posix'), { name: 'UsageError' }, 'a wrong command line is a usage error, help or not');
  const svc = letters('hu');
  t.same(parseOptions(['-h', '-u', 'dir'], svc, 'posix-long').sequence, [{ opt: 'h' }, { opt: 'u' }], "svc's -h is its own");
  t.throws(() => parseOptions(['-h', '--help'], svc, 'posix-long'), HelpRequested, '--help still is the help');
});
