// Bundles each CLI command into its own file, so a command loads only what it
// needs (startup time is most of a client's cost), and the API into build/index.js.
// koffi stays external: its native module cannot be inlined.
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, basename, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const withTests = args.includes('--tests');
const only = args.filter((a) => a !== '--tests');
const cliDir = join(root, 'src/cli');
const entries = readdirSync(cliDir)
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
  .map((f) => ({ name: `cli/${basename(f, '.ts')}`, file: join(cliDir, f) }));
entries.push({ name: 'index', file: join(root, 'src/index.ts') });

// Tests too are TypeScript; each compiles to one file, its npm imports left external.
function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return testFiles(p);
    return d.name.endsWith('.test.ts') ? [p] : [];
  });
}
if (withTests) {
  // A full test build starts clean, so a deleted test does not linger; a
  // filtered one leaves the others' compiled tests alone.
  if (only.length === 0) rmSync(join(root, 'build/test'), { recursive: true, force: true });
  for (const file of testFiles(join(root, 'test'))) {
    entries.push({ name: relative(root, file).replace(/\.ts$/, ''), file, test: true });
  }
}

const selected = only.length ? entries.filter((e) => only.some((o) => e.name.includes(o))) : entries;
let failed = 0;
await Promise.all(selected.map(async (e) => {
  try {
    await build({
      entryPoints: [e.file],
      outfile: join(root, 'build', `${e.name}.js`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['koffi'],
      packages: e.test ? 'external' : undefined,
      sourcemap: 'linked',
      logLevel: 'error',
      legalComments: 'none',
    });
  } catch {
    failed++;
  }
}));
// The API's type declarations (build/types), for TypeScript programs that embed tether;
// a test build makes them too, since the package test ships them.
if (only.length === 0 || only.includes('index')) {
  const tsc = spawnSync(process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'), '--ignoreConfig', '--declaration', '--emitDeclarationOnly',
    '--outDir', join(root, 'build/types'), '--rootDir', join(root, 'src'), '--strict', '--target', 'ES2022',
    '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', '--skipLibCheck',
    '--esModuleInterop', join(root, 'src/index.ts'),
  ], { stdio: 'inherit' });
  if (tsc.status !== 0) failed++;
}
if (failed) {
  console.error(`build: ${failed} bundle(s) failed`);
  process.exit(1);
}
