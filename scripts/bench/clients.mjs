// Client start-up cost: the wall time of `tether svstat`, `tether svok` and
// `tether svc -u` on an idle service, beside `node -e 0` (the floor for any
// Node program) and beside Debian's C clients, all measured in one run:
// hyperfine's median if it is installed, else the median of our own
// interleaved spawns.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib.mjs';

const root = new URL('../../', import.meta.url).pathname;
const TETHER = join(root, 'bin', 'tether.js');
const RUNS = 40;
const WARMUP = 3;
/** hyperfine rounds: each runs every command RUNS / ROUNDS times. */
const ROUNDS = 8;

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
    const commands = {
      nodeBare: [node, '-e', '0'],
      svstat: [node, TETHER, 'svstat', dir],
      s6svstat: ['/usr/bin/s6-svstat', dir],
      svok: [node, TETHER, 'svok', dir],
      s6svok: ['/usr/bin/s6-svok', dir],
      svc: [node, TETHER, 'svc', '-u', dir],
      s6svc: ['/usr/bin/s6-svc', '-u', dir],
    };
    const t = haveHyperfine() ? hyperfine(commands) : timeAll(commands);
    const goal = { text: '<= 1.15 x node -e 0', test: (a, b) => a <= 1.15 * b };
    console.log(`node -e 0: ${t.nodeBare.toFixed(1)} ms (the baseline; ${t.tool})`);
    for (const [name, label] of [['svstat', 'svstat DIR'], ['svok', 'svok DIR'], ['svc', 'svc -u DIR']]) {
      console.log(`tether ${label} / node -e 0 = ${(t[name] / t.nodeBare).toFixed(3)} (same run)`);
      report.row(`tether ${label} vs node -e 0 (in the s6 column)`, t[name], t.nodeBare, 'ms', goal);
    }
    report.row('tether svstat DIR vs s6-svstat', t.svstat, t.s6svstat, 'ms');
    report.row('tether svok DIR vs s6-svok', t.svok, t.s6svok, 'ms');
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

function haveHyperfine() {
  return spawnSync('hyperfine', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * hyperfine's wall times in ms, median per command. One long series per
 * command would let load from other work on a shared machine fall on one
 * command more than another, so hyperfine runs ROUNDS times over all the
 * commands, a few runs each, and every time counts.
 */
function hyperfine(commands) {
  const names = Object.keys(commands);
  const tmp = mkdtempSync(join(tmpdir(), 'tether-bench-hf-'));
  const quote = (w) => `'${w.replace(/'/g, "'\\''")}'`;
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  const perRound = Math.ceil(RUNS / ROUNDS);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const out = join(tmp, `round-${round}.json`);
      const args = ['-N', '--style', 'none', '--warmup', '1', '--runs', String(perRound), '--export-json', out,
        ...names.map((n) => commands[n].map(quote).join(' '))];
      const r = spawnSync('hyperfine', args, { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`hyperfine exited ${r.status}`);
      JSON.parse(readFileSync(out, 'utf8')).results.forEach((res, i) => samples[names[i]].push(...res.times.map((s) => s * 1000)));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return {
    tool: `hyperfine, ${ROUNDS} rounds over all commands, ${perRound} runs each per round, median`,
    ...Object.fromEntries(names.map((n) => [n, median(samples[n])])),
  };
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
