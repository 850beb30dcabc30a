import t from 'tap';
import { formatTain, packTain, parseTain, secondsBetween, tainFromMs, unpackTain } from '../../src/wire/tain';
import { decodeStatus, encodeStatus, isUp, notStartedYet, type StatusRecord } from '../../src/wire/status';
import { appendDeath, appendDeathBytes, decodeDeathTally, deathFromWstat, encodeDeathTally } from '../../src/wire/deathtally';
import { parseSignal, signalName, wstatFromExit, wstatToCode } from '../../src/wire/signals';

t.test('tain is 2^62 + unix + 37, big-endian', async (t) => {
  const buf = Buffer.alloc(12);
  packTain({ secs: 1_700_000_000, nano: 5 }, buf, 0);
  t.equal(buf.toString('hex'), `${(0x4000000000000000n + 1_700_000_037n).toString(16)}00000005`);
  t.same(unpackTain(buf, 0), { secs: 1_700_000_000, nano: 5 });
  t.equal(formatTain({ secs: 1_700_000_000, nano: 5 }), `@${buf.toString('hex')}`);
  t.same(parseTain(formatTain({ secs: 1_700_000_000, nano: 5 })), { secs: 1_700_000_000, nano: 5 });
  t.equal(parseTain('@123'), null);
});

t.test('tain from ms keeps sub-second precision and counts whole seconds', async (t) => {
  const a = tainFromMs(1_000_500.25);
  t.same(a, { secs: 1000, nano: 500_250_000 });
  t.equal(secondsBetween(a, tainFromMs(1_001_400)), 0);
  t.equal(secondsBetween(a, tainFromMs(1_001_600)), 1);
  t.equal(secondsBetween(tainFromMs(5000), tainFromMs(1000)), 0, 'a future stamp counts as now');
});

const base: StatusRecord = {
  stamp: { secs: 1_800_000_000, nano: 1 },
  readystamp: { secs: 1_800_000_001, nano: 2 },
  pid: 9833,
  wstat: 0x000f,
  paused: false,
  finishing: false,
  wantup: true,
  ready: true,
};

t.test('status record is 35 bytes with s6 flag bits', async (t) => {
  const buf = encodeStatus(base);
  t.equal(buf.length, 35);
  t.equal(buf.readBigUInt64BE(24), 9833n);
  t.equal(buf.readUInt16BE(32), 0x000f);
  t.equal(buf[34], 0x0c, 'wantup|ready');
  t.same(decodeStatus(buf), base);
  t.equal(encodeStatus({ ...base, paused: true, finishing: true, wantup: false, ready: false })[34], 0x03);
});

t.test('a real Debian s6 2.11 status dump decodes', async (t) => {
  const dump = Buffer.from('400000006b02459603a4c4de400000006b02459603c66b020000000000000000000f08', 'hex');
  const s = decodeStatus(dump);
  t.equal(s.pid, 0);
  t.equal(s.wstat, 15);
  t.equal(s.ready, true);
  t.equal(s.wantup, false);
  t.equal(isUp(s), false);
  t.equal(notStartedYet(s), false);
});

t.test('the 43-byte layout of s6 2.13 is read, other sizes are refused', async (t) => {
  const b35 = encodeStatus(base);
  const b43 = Buffer.concat([b35.subarray(0, 32), Buffer.alloc(8), b35.subarray(32)]);
  t.same(decodeStatus(b43), base);
  t.throws(() => decodeStatus(b35.subarray(0, 34)), { code: 'EPROTO' });
});

t.test('death tally records exit code and signal as s6 does', async (t) => {
  const stamp = { secs: 1_800_000_000, nano: 0 };
  t.same(deathFromWstat(stamp, wstatFromExit(null, 'SIGTERM')), { stamp, exitcode: 143, sig: 15 });
  t.same(deathFromWstat(stamp, wstatFromExit(3, null)), { stamp, exitcode: 3, sig: 0 });
  const recs = [1, 2, 3].map((n) => ({ stamp, exitcode: n, sig: 0 }));
  const buf = encodeDeathTally(recs);
  t.equal(buf.length, 42);
  t.equal(buf.subarray(12, 14).toString('hex'), '0100');
  t.same(decodeDeathTally(buf), recs);
  t.same(decodeDeathTally(buf.subarray(0, 20)), [], 'a torn tally is empty');
  t.same(appendDeath(recs, { stamp, exitcode: 4, sig: 0 }, 2).map((r) => r.exitcode), [3, 4]);
  t.same(appendDeath(recs, { stamp, exitcode: 4, sig: 0 }, 0), []);
});

t.test('appending a death to the bytes gives what decode, append and encode give', async (t) => {
  const rec = (i: number) => ({ stamp: tainFromMs(1_700_000_000_000 + i * 1000), exitcode: i & 0xff, sig: i % 3 ? 0 : 9 });
  const recs = Array.from({ length: 7 }, (_, i) => rec(i));
  const bytes = encodeDeathTally(recs);
  for (const max of [0, 1, 2, 7, 8, 100]) {
    t.same(appendDeathBytes(bytes, rec(99), max), encodeDeathTally(appendDeath(recs, rec(99), max)), `max ${max}`);
  }
  t.same(appendDeathBytes(Buffer.alloc(0), rec(1), 100), encodeDeathTally([rec(1)]), 'from nothing');
  t.same(appendDeathBytes(Buffer.alloc(15), rec(1), 100), encodeDeathTally([rec(1)]), 'a torn size counts as empty, as s6 reads it');
});

t.test('signals parse like sig0_scan and wstat converts', async (t) => {
  t.equal(parseSignal('TERM'), 15);
  t.equal(parseSignal('sigterm'), 15);
  t.equal(parseSignal('SIGHUP'), 1);
  t.equal(parseSignal('9'), 9);
  t.equal(parseSignal('TERM '), null);
  t.equal(parseSignal('NOPE'), null);
  t.equal(parseSignal('-1'), null);
  t.equal(signalName(15), 'SIGTERM');
  t.equal(signalName(6), 'SIGABRT');
  t.equal(wstatFromExit(2, null), 0x200);
  t.equal(wstatToCode(0x200), 2);
  t.equal(wstatToCode(9), 137);
});
