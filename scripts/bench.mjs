// npm run bench: tether beside Debian's s6, measured in the same run, reported
// as ratios. Each scripts/bench/<area>.mjs exports `run(report)`; pass area
// names as arguments to run only some of them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Report } from './bench/lib.mjs';

const dir = new URL('./bench/', import.meta.url).pathname;
const wanted = process.argv.slice(2);
const areas = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && f !== 'lib.mjs')
  .map((f) => f.slice(0, -4))
  .filter((a) => wanted.length === 0 || wanted.includes(a))
  .sort();

const report = new Report();
for (const area of areas) {
  report.section(area);
  const mod = await import(join(dir, `${area}.mjs`));
  await mod.run(report);
}
report.summary();
