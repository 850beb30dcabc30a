// Client start-up cost: the wall time of `tether svstat` and `tether svc -u`
// on an idle service, beside `node -e 0` (the floor for any Node program)
// and beside Debian's C clients: the median of N spawns of each.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib.mjs';

const root = new URL('../../', import.meta.url).pathname;
const TETHER = join(root, 'bin', 'tether.js');
const RUNS = 40;
const WARMUP = 3;

export async function run(report) {
  if (!existsSync('/usr/bin/s6-supervise')) {
    console.log('skipped: Debian s6 is not installed');
    return;
  }
  const base = mkdtempSync(join(tmpdir(), 'tether-bench-clients-'));
  const dir = join(base, 'svc');
  mkdirSync(dir);
  writeFileSync(join(dir, 'run'), '#!/bin/sh\nexec sleep 100000\n');
  chmodSync(join(dir, 'run'), 0o755);
  const sup = spawn('/usr/bin/s6-supervise', [dir], { stdio: 'ignore' });
  try {
    await waitForStatus(dir);
    const up = spawnSync('/usr/bin/s6-svwait', ['-u', '-t', '20000', dir]);
    if (up.status !== 0) throw new Error('the bench service did not come up');
    const node = process.execPath;
    const t = timeAll({
      nodeBare: [node, '-e', '0'],
      svstat: [node, TETHER, 'svstat', dir],
      s6svstat: ['/usr/bin/s6-svstat', dir],
      svc: [node, TETHER, 'svc', '-u', dir],
      s6svc: ['/usr/bin/s6-svc', '-u', dir],
    });
    const goal = { text: '<= 1.25 x node -e 0', test: (a, b) => a <= 1.25 * b };
    console.log(`node -e 0: ${t.nodeBare.toFixed(1)} ms (the baseline; ${t.tool})`);
    report.row('tether svstat DIR vs node -e 0 (in the s6 column)', t.svstat, t.nodeBare, 'ms', goal);
    report.row('tether svc -u DIR vs node -e 0 (in the s6 column)', t.svc, t.nodeBare, 'ms', goal);
    report.row('tether svstat DIR vs s6-svstat', t.svstat, t.s6svstat, 'ms');
    report.row('tether svc -u DIR vs s6-svc -u', t.svc, t.s6svc, 'ms');
  } finally {
    spawnSync('/usr/bin/s6-svc', ['-dx', dir]);
    await new Promise((res) => (sup.exitCode !== null ? res() : sup.once('exit', res)));
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * Median wall time in ms of each command. The commands take turns, run after
 * run, so load from other work on a shared machine falls on all of them
 * alike (hyperfine would run each command's series one after the other).
 */
function timeAll(commands) {
  const names = Object.keys(commands);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = -WARMUP; i < RUNS; i++) {
    for (const n of names) {
      const [cmd, ...args] = commands[n];
      const t0 = process.hrtime.bigint();
      const r = spawnSync(cmd, args, { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`${commands[n].join(' ')} exited ${r.status}`);
      if (i >= 0) samples[n].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return { tool: `median of ${RUNS} interleaved spawns`, ...Object.fromEntries(names.map((n) => [n, median(samples[n])])) };
}

function waitForStatus(dir) {
  const status = join(dir, 'supervise', 'status');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.close();
      reject(new Error(`no ${status} after 20 s`));
    }, 20_000);
    const check = () => {
      if (existsSync(status)) {
        clearTimeout(timer);
        w.close();
        resolve();
      }
    };
    // supervise/ appears first: watch the service directory recursively.
    const w = watch(dir, { recursive: true }, check);
    check();
  });
}
