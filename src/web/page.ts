// The page: one HTML file, its script and its style, read once at start and
// served from memory. No build step: what is in src/web/page/ is what runs.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EXIT_SYSTEM, Failure } from '../base/exit';

export interface Asset {
  type: string;
  body: Buffer;
}

const FILES: Readonly<Record<string, [file: string, type: string]>> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

/** src/web/page, found from the bundle (build/cli/web.js) or the source, whichever runs. */
function pageDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'src', 'web', 'page');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) throw new Failure('unable to find the page files (src/web/page)', EXIT_SYSTEM);
  }
}

export function loadAssets(): Map<string, Asset> {
  const dir = pageDir();
  return new Map(Object.entries(FILES).map(([path, [file, type]]) => [path, { type, body: readFileSync(join(dir, file)) }]));
}
