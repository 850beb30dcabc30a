// npm run bench: tether beside Debian's s6, measured in the same run, reported
// as ratios. Each scripts/bench/<area>.mjs exports `run(report)`; pass area
// names as arguments to run only some of them. Each area's rows are kept in
// build/bench/AREA.json for scripts/readme-bench.mjs, unless its run()
// returns false (a partial run, such as SVSCAN_BENCH_ONLY).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Report, saveRows } from './bench/lib.mjs';

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
  const first = report.rows.length;
  // An area that measured nothing here (no Debian s6) leaves the last run's rows.
  if ((await mod.run(report)) !== false && report.rows.length > first) saveRows(area, report.rows.slice(first));
}
report.summary();
