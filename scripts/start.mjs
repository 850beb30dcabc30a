// npm start: build if needed, then supervise servicedirs-example in the
// foreground with `tether svscan --watch`, the checkout's bin/ on PATH. The
// scanner runs in this very process, so Ctrl-C (SIGINT) reaches it and stops
// every service in order (a second Ctrl-C at once), and it stops them too
// when the terminal is closed: it has the terminal as its controlling one. Extra arguments go to svscan: `npm start -- --shared`
// hosts every supervisor inside this process. package.json starts node with
// --no-memory-reducer, as bin/tether.js starts svscan (it says why).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const scandir = join(root, 'servicedirs-example');
const needed = ['svscan', 'supervise', 'log', 'status'].map((c) => join(root, 'build', 'cli', `${c}.js`));

if (!needed.every((f) => existsSync(f))) {
  console.error('tether: building first (node scripts/build.mjs)');
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const here = relative(process.cwd(), root) || '.';
const tether = `node ${join(here, 'bin', 'tether.js')}`;
const tree = relative(process.cwd(), scandir);
const extra = process.argv.slice(2);
console.error(`tether: supervising ${tree} (tether svscan --watch${extra.map((a) => ` ${a}`).join('')}). Ctrl-C stops everything in order (a second Ctrl-C: at once); so does closing this terminal.

  status:    ${tether} status ${tree}        (or: npx tether status ${tree})
  web:       curl http://127.0.0.1:8177/       logs: tail -f ${join(tree, 'web', 'log', 'main', 'current')}
  daemon:    nc 127.0.0.1 8178
  backup:    ${tether} svc -u ${join(tree, 'backup')}   (normally down)
  crashy:    restarts at most once a second; see ${tether} svstat ${join(tree, 'crashy')}
`);

// Run scripts call `tether` from PATH, as they would with tether installed:
// the checkout's bin/ goes first, for the scanner and everything it starts.
process.env.PATH = `${join(root, 'bin')}${delimiter}${process.env.PATH ?? ''}`;

const require = createRequire(import.meta.url);
await require(join(root, 'build', 'cli', 'svscan.js')).main(['--watch', ...extra, scandir]);
