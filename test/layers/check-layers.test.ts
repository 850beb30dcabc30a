// scripts/check-layers.mjs, run by `npm test`, must pass on src/ and fail on
// an import that goes the wrong way.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, run, tempDir } from '../lib/harness';

const SCRIPT = join(ROOT, 'scripts', 'check-layers.mjs');

function tree(root: string, files: Record<string, string>): string {
  const src = join(root, 'src');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(src, path)), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  return src;
}

t.test("tether's own src/ passes", async (t) => {
  const r = await run(process.execPath, [SCRIPT]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
});

t.test('an edge downward passes; upward, sideways, koffi outside os/ and an unknown folder fail', async (t) => {
  const good = tree(tempDir(t), {
    'os/proc.ts': "import { errnoOf } from '../base/errno';\n",
    'base/errno.ts': "import { join } from 'node:path';\n",
    'cli/svc.ts': "import { svc } from '../client/svc';\nimport { x } from './lib/program';\n",
    'cli/lib/program.ts': "import { y } from '../../base/exit';\n",
    'client/svc.ts': "// import { z } from '../cli/svc'; only a comment\nexport {};\n",
  });
  const ok = await run(process.execPath, [SCRIPT, good]);
  t.equal(ok.code, 0, ok.stderr);

  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ 'os/proc.ts': "import { main } from '../cli/svc';\n" }, /src\/os\/proc\.ts: os may not import cli \('\.\.\/cli\/svc'\)/],
    [{ 'supervise/adoption.ts': "import { accept } from '../daemon/pidfile';\n" }, /supervise may not import daemon/],
    [{ 'wire/status.ts': "export { x } from '../client/status';\n" }, /wire may not import client/],
    [{ 'base/exit.ts': "const n = require('../os/native');\n" }, /base may not import os/],
    [{ 'client/svok.ts': "import koffi from 'koffi';\n" }, /client may not load koffi \(only os\)/],
    [{ 'gadgets/x.ts': 'export {};\n' }, /src\/gadgets has no row/],
  ];
  for (const [files, message] of cases) {
    const r = await run(process.execPath, [SCRIPT, tree(tempDir(t), files)]);
    t.equal(r.code, 1, String(message));
    t.match(r.stderr, message);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line per bad edge');
  }
});
