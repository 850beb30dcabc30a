#!/usr/bin/env node
// Writes the README's "Reliability" section from the figures the last run of
// `npm run test:faults` left in build/faults/*.json: one row per scenario and
// check, tether's figure beside Debian s6's. Nothing in the table is typed by
// hand; rerun the suite, then this script, to refresh it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'build', 'faults');
const readme = join(root, 'README.md');
const BEGIN = '<!-- faults-table:begin (scripts/faults-table.mjs writes this) -->';
const END = '<!-- faults-table:end -->';

if (!existsSync(dir)) {
  console.error(`faults-table: no ${dir}: run npm run test:faults first`);
  process.exit(111);
}
const runs = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
if (runs.length === 0) {
  console.error(`faults-table: no figures in ${dir}: run npm run test:faults first`);
  process.exit(111);
}
const cell = (s) => String(s).replaceAll('|', '\\|');
const rows = runs.flatMap((r) => r.figures.map((f) => `| ${cell(f.scenario)} | ${cell(f.check)} | ${cell(f.tether)} | ${f.s6 === null ? 'not run' : cell(f.s6)} |`));
const dates = runs.map((r) => r.at).sort();
const table = [
  BEGIN,
  `Last run: ${dates[0].slice(0, 10)} (${runs.length} scenario files, ${rows.length} rows), \`npm run test:faults\` on ${process.env.FAULTS_MACHINE ?? 'the development machine (2 cores, shared)'}.`,
  '',
  '| scenario | check | tether | Debian s6 2.11 |',
  '|---|---|---|---|',
  ...rows,
  END,
].join('\n');

const text = readFileSync(readme, 'utf8');
const start = text.indexOf(BEGIN);
const end = text.indexOf(END);
if (start < 0 || end < start) {
  console.error(`faults-table: README.md has no ${BEGIN} ... ${END} block`);
  process.exit(111);
}
writeFileSync(readme, text.slice(0, start) + table + text.slice(end + END.length));
console.log(`faults-table: ${rows.length} rows written to README.md`);
