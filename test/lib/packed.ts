// The package as npm publishes it: `npm pack` output, installed the way npm
// installs a tarball (unpacked into node_modules/tether-supervisor, its bin
// linked as node_modules/.bin/tether), with the two runtime dependencies
// linked from the checkout, so no test reaches the registry.
import { mkdirSync, renameSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, run, tempDir, type Teardown } from './harness';

export const PACKAGE = 'tether-supervisor';
export const RUNTIME_DEPENDENCIES = ['koffi', 'node-watch'];

/** `npm pack` of the checkout (its build must exist); returns the tarball's path. */
export async function packTarball(t: Teardown): Promise<string> {
  const dest = tempDir(t, 'tether-pack-');
  const r = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: ROOT, timeout: 120_000 });
  if (r.code !== 0) throw new Error(`npm pack: ${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string }>;
  return join(dest, info.filename);
}

/**
 * Installs `tarball` under PREFIX/node_modules (or, with `global`, as
 * `npm install -g --prefix PREFIX` lays it out: PREFIX/lib/node_modules and
 * PREFIX/bin); returns the package directory and the bin directory npm puts
 * on PATH.
 */
export async function installTarball(tarball: string, prefix: string, opts: { global?: boolean } = {}): Promise<{ prefix: string; pkg: string; bin: string }> {
  const modules = opts.global ? join(prefix, 'lib', 'node_modules') : join(prefix, 'node_modules');
  const bin = opts.global ? join(prefix, 'bin') : join(modules, '.bin');
  mkdirSync(modules, { recursive: true });
  mkdirSync(bin, { recursive: true });
  const r = await run('tar', ['-xzf', tarball, '-C', modules]);
  if (r.code !== 0) throw new Error(`tar: ${r.stderr}`);
  const pkg = join(modules, PACKAGE);
  renameSync(join(modules, 'package'), pkg);
  for (const dep of RUNTIME_DEPENDENCIES) symlinkSync(join(ROOT, 'node_modules', dep), join(modules, dep));
  symlinkSync(relative(bin, join(pkg, 'bin', 'tether.js')), join(bin, 'tether'));
  return { prefix, pkg, bin };
}
