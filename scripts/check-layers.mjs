// Checks the imports between src/ folders against the layers the README's
// Architecture section describes, in the spirit of s6's per-program
// dependency lists: each folder names the folders it may import, and an
// edge that goes the wrong way (os importing supervise, supervise importing
// daemon) fails `npm test`. Also: koffi, the native module, is imported in
// src/os/ only. Usage: node scripts/check-layers.mjs [SRC_DIR]; exit 0 if
// every edge is allowed, 1 with one line per bad edge.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Folder (or top-level file) -> the folders it may import, besides itself. */
export const ALLOWED = {
  base: [],
  os: ['base'],
  wire: ['base', 'os'],
  servicedir: ['base', 'os', 'wire'],
  // Shared mode hosts supervisors and loggers in the scanner's process.
  supervise: ['base', 'os', 'wire', 'servicedir', 'notify'],
  scan: ['base', 'os', 'wire', 'servicedir', 'supervise', 'log'],
  log: ['base', 'os', 'wire'],
  notify: ['base', 'os', 'wire'],
  client: ['base', 'os', 'wire', 'servicedir'],
  daemon: ['base', 'os', 'wire'],
  web: ['base', 'os', 'wire', 'servicedir', 'client', 'log'],
  cli: ['base', 'os', 'wire', 'servicedir', 'supervise', 'scan', 'log', 'notify', 'client', 'daemon', 'web'],
  'index.ts': ['base', 'os', 'wire', 'servicedir', 'supervise', 'scan', 'log', 'notify', 'client', 'daemon', 'web'],
};
/** npm packages only some folders may load. */
const PACKAGE_HOMES = { koffi: ['os'] };

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The specifiers of `import ... from 'x'`, `export ... from 'x'`, `import('x')` and `require('x')`. */
function specifiers(text) {
  const out = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) out.push(m[1]);
  return out;
}

/** The layer a path under src/ belongs to: its first folder, or the file name at the top. */
function layerOf(src, path) {
  return relative(src, path).split(sep)[0];
}

export function checkLayers(src) {
  const problems = [];
  for (const file of sourceFiles(src)) {
    const from = layerOf(src, file);
    const allowed = ALLOWED[from];
    const where = relative(dirname(src), file);
    if (!allowed) {
      problems.push(`${where}: src/${from} has no row in scripts/check-layers.mjs: say which layers it may import`);
      continue;
    }
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        const to = relative(src, target).startsWith('..') ? '(outside src)' : layerOf(src, target);
        if (to !== from && !allowed.includes(to)) problems.push(`${where}: ${from} may not import ${to} ('${spec}')`);
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        const homes = PACKAGE_HOMES[pkg];
        if (homes && !homes.includes(from)) problems.push(`${where}: ${from} may not load ${pkg} (only ${homes.join(', ')})`);
      }
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const src = resolve(process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..', 'src'));
  const problems = checkLayers(src);
  for (const p of problems) process.stderr.write(`check-layers: ${p}\n`);
  process.exit(problems.length === 0 ? 0 : 1);
}
