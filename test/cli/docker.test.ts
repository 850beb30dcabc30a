// The repository's Dockerfile, without Docker: its steps are read from the
// file and run in a temporary root. The first stage's context is the
// checkout filtered by .dockerignore, built and packed as `npm ci` (its
// prepare script) and `npm pack` would; the final stage's COPY and RUN steps
// install that tarball as `npm install -g` lays it out and copy the example
// tree. Then its ENTRYPOINT runs from the root, with only the root's bin/ (and
// node's) on PATH, and its HEALTHCHECK must pass once the tree is up.
import t from 'tap';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { ROOT, run, tempDir } from '../lib/harness';
import { installTarball } from '../lib/packed';
import { killTree, startScanner } from '../scan/lib';

interface Step { op: string; args: string }
interface Stage { from: string; name?: string; steps: Step[] }

/** The Dockerfile's stages and their instructions (comments and blank lines dropped). */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    const [, op, args] = m;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      stages.push({ from: f[1], name: f[2], steps: [] });
    } else stages[stages.length - 1].steps.push({ op, args: args.trim() });
  }
  return stages;
}

/** .dockerignore patterns as a test on context-relative paths (a match excludes the subtree). */
function ignoreTest(text: string): (path: string) => boolean {
  const res = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((p) => {
    const re = p.split('/').map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))).join('/');
    return new RegExp(`^${re.replace(/^\.\*\//, '(?:.*/)?')}$`);
  });
  return (path) => res.some((re) => re.test(path));
}

function copyContext(ignored: (p: string) => boolean, dest: string): void {
  cpSync(ROOT, dest, {
    recursive: true,
    filter: (src) => {
      const rel = relative(ROOT, src);
      if (rel === '') return true;
      if (ignored(rel)) return false;
      const st = lstatSync(src);
      if (st.isFIFO() || st.isSocket()) throw new Error(`${rel}: a FIFO or socket would reach the build context`);
      return true;
    },
  });
}

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

t.test('the Dockerfile, step by step in a temporary root', async (t) => {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  t.equal(stages.length, 2, 'a build stage and the image');
  const [build, image] = stages;
  t.equal(build.name, 'pack');
  t.match(image.from, /^node:(20|2[2-9])/, 'a Node >= 20 image');
  const ignored = ignoreTest(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  for (const p of ['node_modules', '.git', 'build', 'servicedirs-example/web/supervise', 'servicedirs-example/web/log/event', 'servicedirs-example/web/log/main', 'servicedirs-example/daemon/daemon.pid', 'npm-debug.log']) {
    t.ok(ignored(p), `.dockerignore leaves out ${p}`);
  }
  for (const p of ['src/cli/svscan.ts', 'src/supervise/host.ts', 'package.json', 'package-lock.json', 'servicedirs-example/web/run', 'scripts/build.mjs']) t.notOk(ignored(p), `keeps ${p}`);

  // Stage "pack": COPY . . into WORKDIR, then `npm ci` (whose prepare
  // builds) and `npm pack`. The install itself is replaced by the
  // checkout's node_modules; the build and the pack run for real.
  const base = tempDir(t, 'tether-docker-');
  const stageRoot = join(base, 'pack-stage');
  const workdir = build.steps.find((s) => s.op === 'WORKDIR')!.args;
  t.same(build.steps.filter((s) => s.op === 'COPY').map((s) => s.args), ['. .'], 'the whole (filtered) context is copied');
  const ctx = join(stageRoot, workdir);
  copyContext(ignored, ctx);
  t.notOk(existsSync(join(ctx, 'node_modules')) || existsSync(join(ctx, 'build')) || existsSync(join(ctx, '.git')), 'no node_modules, build or .git in the context');
  const runLine = build.steps.find((s) => s.op === 'RUN')!.args;
  t.match(runLine, /npm ci\b/, 'the stage installs with npm ci (prepare builds)');
  const packDest = /--pack-destination\s+(\S+)/.exec(runLine)?.[1];
  t.ok(packDest, 'and packs into a known directory');
  symlinkSync(join(ROOT, 'node_modules'), join(ctx, 'node_modules'));
  // A container's small environment. `env -i`, because the test runner adds
  // its loader to NODE_OPTIONS of every child, and tsc cannot run under it.
  const clean = ['-i', `PATH=${process.env.PATH}`, `HOME=${base}`, `npm_config_cache=${join(process.env.HOME ?? '/root', '.npm')}`];
  const built = await run('/usr/bin/env', [...clean, process.execPath, join(ctx, 'scripts', 'build.mjs')], { cwd: ctx, timeout: 300_000 });
  t.equal(built.code, 0, `the context builds: ${built.stderr}`);
  rmSync(join(ctx, 'node_modules'));
  mkdirSync(join(stageRoot, packDest!), { recursive: true });
  const packed = await run('/usr/bin/env', [...clean, 'npm', 'pack', '--ignore-scripts', '--json', '--pack-destination', join(stageRoot, packDest!)], { cwd: ctx, timeout: 120_000 });
  t.equal(packed.code, 0, packed.stderr);

  // The image: its COPY --from and RUN steps, paths taken inside ROOT.
  const root = join(base, 'image');
  const inRoot = (p: string) => join(root, p);
  let globalModules = '';
  for (const step of image.steps) {
    if (step.op === 'COPY') {
      const m = /^--from=(\S+)\s+(\S+)\s+(\S+)$/.exec(step.args);
      t.ok(m && m[1] === 'pack', `COPY ${step.args}: from the pack stage only`);
      cpSync(join(stageRoot, m![2]), inRoot(m![3]), { recursive: true });
    } else if (step.op === 'RUN') {
      for (const part of step.args.split('&&').map((p) => p.trim())) {
        const install = /^npm install -g .*?(\S+\.tgz)$/.exec(part);
        if (install) {
          const dir = inRoot(dirname(install[1]));
          const tgz = readdirSync(dir).find((f) => new RegExp(`^${install[1].split('/').pop()!.replace(/\./g, '\\.').replace('*', '.*')}$`).test(f));
          t.ok(tgz, `${install[1]} is there`);
          const { pkg } = await installTarball(join(dir, tgz!), inRoot('usr/local'), { global: true });
          globalModules = dirname(pkg);
          continue;
        }
        const rmrf = /^rm -rf (\/\S+)$/.exec(part);
        if (rmrf) {
          rmSync(inRoot(rmrf[1]), { recursive: true, force: true });
          continue;
        }
        const cp = /^cp -R "\$\(npm root -g\)\/(\S+)" (\/\S+)$/.exec(part);
        t.ok(cp, `a RUN step this test knows: ${part}`);
        cpSync(join(globalModules, cp![1]), inRoot(cp![2]), { recursive: true });
      }
    }
  }
  t.notOk(existsSync(inRoot('tmp/pack')), 'the tarball is removed');

  // What svscan needs, found from PATH alone, as in the image.
  const bin = inRoot('usr/local/bin');
  const PATH = `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`;
  const which = await run('/bin/sh', ['-c', 'command -v tether'], { env: { PATH } });
  t.equal(which.stdout.trim(), join(bin, 'tether'), 'tether is on PATH');
  const entry = JSON.parse(image.steps.find((s) => s.op === 'ENTRYPOINT')!.args) as string[];
  t.same(entry.slice(0, 2), ['tether', 'svscan'], 'ENTRYPOINT: tether svscan, PID 1');
  const scandir = inRoot(entry[entry.length - 1]);
  const runs = (readdirSync(scandir, { recursive: true }) as string[]).filter((f) => f === 'run' || f.endsWith('/run'));
  t.ok(runs.includes('web/run') && runs.includes('web/log/run'), 'the example tree is in the image');
  for (const r of runs) {
    t.ok(statSync(join(scandir, r)).mode & 0o100, `${r} is executable`);
    const text = readFileSync(join(scandir, r), 'utf8');
    t.notMatch(text, /bin\/tether\.js|\.\.\/\.\.\//, `${r} reaches nothing outside its directory by path`);
  }

  // The image's entry point, from the root: the tree comes up, the
  // HEALTHCHECK passes, svscanctl -t stops everything.
  const [port, daemonPort] = [await freePort(), await freePort()];
  const env = { PATH, PORT: String(port), DAEMON_PORT: String(daemonPort), HOME: base };
  const sc = await startScanner(t, scandir, { prefix: [join(bin, 'tether')], env });
  t.teardown(() => killTree(sc.pid));
  t.equal((await run(join(bin, 'tether'), ['svwait', '-U', '-t', '60000', join(scandir, 'web')], { env })).code, 0, 'web is up and ready');
  t.equal((await run(join(bin, 'tether'), ['svwait', '-u', '-t', '60000', join(scandir, 'daemon')], { env })).code, 0, 'the daemon is up');
  const health = JSON.parse(image.steps.find((s) => s.op === 'HEALTHCHECK')!.args.replace(/^.*?CMD\s+/, '')) as string[];
  const check = await run(join(bin, health[0]), [...health.slice(1, 3), ...health.slice(3).map(inRoot)], { env });
  t.same([check.code, check.stdout], [0, ''], `HEALTHCHECK ${health.join(' ')}: healthy, silent (${check.stderr})`);
  t.equal((await sc.stop()).code, 0, 'svscanctl -t: the tree stops, svscan exits 0');
});
