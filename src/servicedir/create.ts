// Writing a new service directory (what `tether add` does): an ordinary s6
// service directory, so s6-supervise runs it as well as tether supervise.
// Everything is written into a fresh private directory first, then renamed
// into the scan directory in one step, so a scanner never sees half of it.
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface NewService {
  /** The scan directory the service goes into (created if missing). */
  scandir: string;
  name: string;
  /** The program and its arguments, exec'd by `run`. */
  command: readonly string[];
  /** Variables for env/, one file each, read by `run` at every start. */
  env?: Readonly<Record<string, string>>;
  /** Directory the command runs in; relative to the current directory. */
  cwd?: string;
  /** The service writes a newline to fd 3 once it is ready. */
  notify?: boolean;
  /** Adds log/run: `tether log` keeps the output in log/main. */
  log?: boolean;
}

/** Files written, relative to the service directory, in the order written. */
export type Written = string[];

export class ServiceDirError extends Error {
  constructor(message: string, readonly usage: boolean) {
    super(message);
    this.name = 'ServiceDirError';
  }
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const NOTIFICATION_FD = 3;

/** Checks a service's name: no slash, no dot first (the scanner would skip it). */
export function checkServiceName(name: string): void {
  if (!NAME.test(name)) {
    throw new ServiceDirError(`invalid service name: ${JSON.stringify(name)} (letters, digits, _ . @ + -, not starting with a dot or dash)`, true);
  }
}

export function checkEnvName(name: string): void {
  if (!ENV_NAME.test(name)) throw new ServiceDirError(`invalid variable name: ${JSON.stringify(name)}`, true);
}

/** A word as sh reads it back unchanged: single quotes, with ' as '\''. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The env/ reader, in plain sh so it needs neither s6 nor a Node process
 * between the supervisor and the service: as s6-envdir, each file sets the
 * variable of its name to its first line, trailing blanks removed, and an
 * empty file unsets it.
 */
const ENV_READER = `for f in ./env/*; do
  [ -f "$f" ] || continue
  n=\${f##*/}
  case $n in *[!A-Za-z0-9_]*|[0-9]*) continue ;; esac
  v=
  IFS= read -r v < "$f" || :
  while case $v in *[[:blank:]]) true ;; *) false ;; esac; do v=\${v%?}; done
  if [ -s "$f" ]; then export "$n=$v"; else unset "$n"; fi
done
unset f n v`;

export function runScript(svc: NewService): string {
  const lines = ['#!/bin/sh', `# Written by \`tether add ${svc.name}\`. Edit freely: the supervisor reads it at each start.`];
  if (svc.log) lines.push('# stderr joins stdout, so both reach the logger (log/run).', 'exec 2>&1');
  if (svc.env && Object.keys(svc.env).length > 0) lines.push('# Each file in env/ is one variable (as s6-envdir reads them).', ENV_READER);
  if (svc.cwd !== undefined) lines.push(`cd ${shellQuote(resolve(svc.cwd))} || exit 111`);
  lines.push(`exec ${svc.command.map(shellQuote).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export function logRunScript(): string {
  return `#!/bin/sh
# Written by \`tether add\`: an s6-log script keeping the service's output in
# ./main, each line stamped with TAI64N (t), rotated near 1 MB (s1000000),
# 10 archives kept (n10). Read it with: tether logs SERVICEDIR, or
# tether tai64nlocal < main/current.
exec tether log t s1000000 n10 ./main
`;
}

/** Writes the service directory; returns the files written. */
export function createServiceDir(svc: NewService): Written {
  checkServiceName(svc.name);
  if (svc.command.length === 0 || svc.command[0] === '') throw new ServiceDirError('no command', true);
  for (const [k, v] of Object.entries(svc.env ?? {})) {
    checkEnvName(k);
    if (/[\n\0]/.test(v)) throw new ServiceDirError(`the value of ${k} has a newline or NUL: env/ files hold one line`, true);
  }
  mkdirSync(svc.scandir, { recursive: true });
  const target = join(svc.scandir, svc.name);
  if (exists(target)) throw new ServiceDirError(`${target} already exists`, false);
  // mkdtemp makes a new directory only this process knows the name of: no
  // symlink can be waiting inside it. A dot-name, so scanners skip it.
  const tmp = mkdtempSync(join(svc.scandir, `.tether-add-${svc.name}-`));
  try {
    const written = fill(tmp, svc);
    chmodSync(tmp, 0o755);
    // Checked again just before: rename(2) would replace an empty directory.
    if (exists(target)) throw new ServiceDirError(`${target} already exists`, false);
    renameSync(tmp, target);
    return written;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function fill(dir: string, svc: NewService): Written {
  const written: Written = [];
  const put = (name: string, text: string, mode = 0o644) => {
    writeNew(join(dir, name), text, mode);
    written.push(name);
  };
  put('run', runScript(svc), 0o755);
  if (svc.notify) put('notification-fd', `${NOTIFICATION_FD}\n`);
  const env = Object.entries(svc.env ?? {});
  if (env.length > 0) {
    mkdirSync(join(dir, 'env'), 0o755);
    for (const [k, v] of env) put(`env/${k}`, `${v}\n`);
  }
  if (svc.log) {
    mkdirSync(join(dir, 'log'), 0o755);
    put('log/run', logRunScript(), 0o755);
  }
  return written;
}

/** O_EXCL and O_NOFOLLOW: never writes through a link, never over a file. */
function writeNew(path: string, text: string, mode: number): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, mode);
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
