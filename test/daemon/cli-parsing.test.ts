import t from 'tap';
import { parseDuration, parseOptions, parseUint } from '../../src/base/getopt';

t.test('durations', async (t) => {
  const cases: [string, number | null][] = [
    ['500ms', 500], ['5s', 5000], ['1m', 60_000], ['1h', 3_600_000], ['1m30s', 90_000], ['1.5s', 1500], ['0s', 0],
    ['5', null], ['', null], ['s', null], ['-1s', null], ['1d', null], ['1 s', null], ['1000h', null],
  ];
  for (const [text, ms] of cases) t.equal(parseDuration(text), ms, JSON.stringify(text));
});

t.test('options: short, long, inline values, --, stop at the first operand', async (t) => {
  const spec = { timeout: { short: 't', value: true }, help: { short: 'h', value: false }, 'show-stacks': { value: false } };
  let p = parseOptions(['-t500', '--show-stacks', 'pidfile', 'prog', '-t', '9'], spec, 'posix');
  t.same([...p.options], [['timeout', '500'], ['show-stacks', true]]);
  t.same(p.operands, ['pidfile', 'prog', '-t', '9'], "PROG's own options are left alone");
  p = parseOptions(['a', '--timeout=5s', 'b', '-h', '--', '-t'], spec, 'anywhere');
  t.same([...p.options], [['timeout', '5s'], ['help', true]]);
  t.same(p.operands, ['a', 'b', '-t']);
  p = parseOptions(['-ht', '7', 'x'], spec, 'posix');
  t.same([...p.options], [['help', true], ['timeout', '7']]);
  for (const bad of [['-x'], ['--nope'], ['-t'], ['--timeout'], ['--help=1']]) {
    t.throws(() => parseOptions(bad, spec, 'posix'), { name: 'UsageError' }, bad.join(' '));
  }
  t.equal(parseUint('42', 'n'), 42);
  t.throws(() => parseUint('4x', 'n'), { name: 'UsageError' });
  t.throws(() => parseUint(undefined, 'n'), { name: 'UsageError' });
});
