// tether tai64nlocal against Debian's s6-tai64nlocal, byte for byte: labels
// from 1970 to 2100 (leap seconds included), several time zones, lines
// without a label, bad labels, bytes that are not UTF-8, no final newline.
import t from 'tap';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { S6_BIN, TETHER } from '../lib/harness';

const S6_TAI64NLOCAL = join(S6_BIN, 's6-tai64nlocal');

function label(secs: bigint, nano: number): string {
  return `@${((1n << 62n) + secs).toString(16).padStart(16, '0')}${nano.toString(16).padStart(8, '0')}`;
}

function sample(): Buffer {
  const lines: string[] = [];
  // Every leap second's neighbourhood, in TAI seconds since 1970.
  const leapUtc = [78796800, 94694400, 126230400, 1483228800, 1435708800];
  for (const u of leapUtc) for (let d = -40; d <= 40; d += 3) lines.push(`${label(BigInt(u + d), 1000 * d + 5000)} near a leap second`);
  let x = 12345;
  for (let i = 0; i < 300; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const secs = BigInt(Math.floor((x / 2 ** 31) * 4_100_000_000));
    lines.push(`${label(secs, (x * 7) % 1_000_000_000)} line ${i}`);
  }
  lines.push('no label here', '@4000000', '@zzzz000000000000000000000 bad hex', `${label(1_700_000_000n, 4_294_967_295)} nano out of range`);
  lines.push(label(1_800_000_000n, 1), `  ${label(1_800_000_000n, 1)} indented`, '');
  const text = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
  return Buffer.concat([text, Buffer.from([0x40, 0xff, 0xfe, 0x0a]), Buffer.from(`${label(1_900_000_000n, 42)} no newline`, 'latin1')]);
}

t.test('same bytes as s6-tai64nlocal', { skip: existsSync(S6_TAI64NLOCAL) ? false : 'Debian s6 is not installed' }, async (t) => {
  const input = sample();
  for (const tz of ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) {
    const env = { ...process.env, TZ: tz };
    const s6 = spawnSync(S6_TAI64NLOCAL, [], { input, env });
    const ours = spawnSync(process.execPath, [TETHER, 'tai64nlocal'], { input, env });
    t.equal(ours.status, 0, `${tz}: exit 0`);
    t.ok(s6.stdout.length > input.length / 2, 's6-tai64nlocal produced output');
    t.ok(ours.stdout.equals(s6.stdout), `${tz}: byte for byte`);
  }
});

t.test('usage', async (t) => {
  const bad = spawnSync(process.execPath, [TETHER, 'tai64nlocal', 'file'], { input: '' });
  t.equal(bad.status, 100);
  t.match(bad.stderr.toString(), /^tether tai64nlocal: fatal: usage: tether tai64nlocal /);
  const help = spawnSync(process.execPath, [TETHER, 'tai64nlocal', '--help']);
  t.equal(help.status, 0);
  t.match(help.stdout.toString(), /s6-tai64nlocal/);
});
