// Writes the README's table of modes from the last `npm run bench` (the rows
// scripts/bench/supervise.mjs and svscan.mjs keep in build/bench/), between
// the markers `<!-- bench:modes -->` and `<!-- /bench:modes -->`. Run it
// after the bench: `npm run bench && node scripts/readme-bench.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const areas = ['supervise', 'svscan'].map((a) => JSON.parse(readFileSync(join(root, 'build', 'bench', `${a}.json`), 'utf8')));

const fmt = (v, unit) => {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (unit === 'ticks') return `${Math.round(v)} ${unit}`;
  const n = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${n} ${unit}`;
};
const lines = [
  `From \`npm run bench\` on ${areas[1].date.slice(0, 10)} (load average ${areas[1].load} on 2 cores, other work running), written by \`node scripts/readme-bench.mjs\`:`,
  '',
  '| figure | tether | s6 | ratio | goal |',
  '|---|---|---|---|---|',
];
for (const { rows } of areas) {
  for (const r of rows) {
    const ratio = Number.isFinite(r.ratio) && r.ratio > 0 ? r.ratio.toFixed(2) : '';
    const goal = r.goal ? `${r.goal}: ${r.met ? 'met' : 'missed'}` : '';
    lines.push(`| ${r.name} | ${fmt(r.tether, r.unit)} | ${fmt(r.s6, r.unit)} | ${ratio} | ${goal} |`);
  }
}

const readme = join(root, 'README.md');
const text = readFileSync(readme, 'utf8');
const start = '<!-- bench:modes -->';
const end = '<!-- /bench:modes -->';
const a = text.indexOf(start);
const b = text.indexOf(end);
if (a < 0 || b < a) throw new Error(`README.md has no ${start} ... ${end} section`);
writeFileSync(readme, `${text.slice(0, a + start.length)}\n${lines.join('\n')}\n${text.slice(b)}`);
console.error(`README.md: ${lines.length - 4} rows written`);
