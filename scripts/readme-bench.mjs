// Writes the README's Performance tables from the last `npm run bench` (the
// rows the bench areas keep in build/bench/AREA.json), each between its
// markers: `<!-- bench:modes -->` (supervise, svscan), and one per other area
// (`<!-- bench:load -->`, clients, daemon, log, notify, web). Run it after
// the bench: `npm run bench && node scripts/readme-bench.mjs`. A table whose
// areas were not run is left as it is.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const TABLES = {
  modes: ['supervise', 'svscan'],
  load: ['load'],
  clients: ['clients'],
  daemon: ['daemon'],
  log: ['log'],
  notify: ['notify'],
  web: ['web'],
};

const fmt = (v, unit) => {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (unit === 'ticks') return `${Math.round(v)} ${unit}`;
  const n = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${n} ${unit}`;
};

function table(areas) {
  const last = areas.at(-1);
  const lines = [
    `From \`npm run bench\` on ${last.date.slice(0, 10)} (load average ${last.load} on 2 cores as the last area ended), written by \`node scripts/readme-bench.mjs\`:`,
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
  return lines;
}

const readme = join(root, 'README.md');
let text = readFileSync(readme, 'utf8');
for (const [marker, names] of Object.entries(TABLES)) {
  const files = names.map((a) => join(root, 'build', 'bench', `${a}.json`));
  if (!files.every(existsSync)) {
    console.error(`README.md: ${marker} left as it was (no ${names.join(', ')} rows in build/bench/)`);
    continue;
  }
  const lines = table(files.map((f) => JSON.parse(readFileSync(f, 'utf8'))));
  const start = `<!-- bench:${marker} -->`;
  const end = `<!-- /bench:${marker} -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} ... ${end} section`);
  text = `${text.slice(0, a + start.length)}\n${lines.join('\n')}\n${text.slice(b)}`;
  console.error(`README.md: ${marker}: ${lines.length - 4} rows written`);
}
writeFileSync(readme, text);
