// spawnTree(): run a program so that closing the handle, or the death of the
// owning process (even by SIGKILL), ends every process the program started,
// including daemons that double-forked away from it. A keeper process
// (tether tree-keeper) sits between the owner and the program: a child
// subreaper with PR_SET_PDEATHSIG, see ./keeper.ts.
//
// The guarantee holds for the thread that called spawnTree: the kernel's
// parent-death signal follows the thread that forked, so call it from the
// main thread, not from a worker that may end before the process does.
import { spawn, type ChildProcess, type StdioNull, type StdioPipe } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { reaper } from '../os/reaper';
import { DEFAULT_GRACE_MS } from './keeper';

export interface SpawnTreeOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The program's stdin, stdout and stderr (default 'inherit'). */
  stdio?: 'inherit' | 'ignore' | 'pipe' | [StdioSpec, StdioSpec, StdioSpec];
  /** Between TERM and KILL when the tree is ended (default 5000 ms). */
  graceMs?: number;
}
type StdioSpec = 'inherit' | StdioNull | StdioPipe | number;

export interface TreeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TreeHandle {
  /** The program's pid. */
  readonly pid: number;
  /** The keeper's pid (the program's parent). */
  readonly keeperPid: number;
  /** Settles when the program itself exits; its descendants may live on until close(). */
  readonly exited: Promise<TreeExit>;
  /** Ends the whole tree (TERM, then KILL after the grace); resolves when nothing is left. */
  close(): Promise<void>;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
}

/** Where `bin/tether.js` is, next to the built tree-keeper command. */
export function findTetherBin(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const bin = join(dir, 'bin', 'tether.js');
    if (existsSync(bin) && existsSync(join(dir, 'build', 'cli', 'tree-keeper.js'))) return bin;
    if (dirname(dir) === dir) throw new Error(`spawnTree: no bin/tether.js with build/cli/tree-keeper.js above ${from}: run the build`);
  }
}

/** Spawns `argv` under a keeper; resolves once the program runs, rejects if it cannot be spawned. */
export function spawnTree(argv: readonly string[], opts: SpawnTreeOptions = {}): Promise<TreeHandle> {
  if (argv.length === 0) return Promise.reject(new TypeError('spawnTree: argv is empty'));
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const stdio = typeof opts.stdio === 'string' || opts.stdio === undefined ? [opts.stdio ?? 'inherit', opts.stdio ?? 'inherit', opts.stdio ?? 'inherit'] : opts.stdio;
  const keeper = reaper.leaveToLibuv(spawn(process.execPath, [findTetherBin(), 'tree-keeper', '--owner', String(process.pid), '--grace', String(Math.max(0, Math.round(graceMs))), '--', ...argv], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: [...stdio, 'pipe'],
  }));
  return new Promise((resolve, reject) => {
    const control = keeper.stdio[3] as NodeJS.ReadWriteStream | null;
    let settledExit: (e: TreeExit) => void = () => {};
    const exited = new Promise<TreeExit>((res) => (settledExit = res));
    const keeperExit = new Promise<TreeExit>((res) => keeper.once('exit', (code, signal) => res({ code, signal })));
    let started = false;
    let buf = '';
    control?.setEncoding('utf8');
    control?.on('data', (chunk: string) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [kind, a, ...rest] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        if (kind === 'pid' && !started) {
          started = true;
          resolve(makeHandle(keeper, Number(a), exited, keeperExit));
        } else if (kind === 'error' && !started) {
          started = true;
          reject(Object.assign(new Error(`spawnTree: cannot spawn ${argv[0]}: ${rest.join(' ')}`), { code: a }));
        } else if (kind === 'exit') {
          settledExit({ code: a === '-' ? null : Number(a), signal: rest[0] === '-' ? null : (rest[0] as NodeJS.Signals) });
        }
      }
    });
    control?.on('error', () => {}); // the keeper's exit says it all
    // Only the keeper holds the other end: it closes when the keeper dies, after its last line.
    const controlClosed = new Promise<void>((res) => (control ? control.once('close', () => res()) : res()));
    keeper.once('error', (err) => {
      if (!started) reject(err);
    });
    void Promise.all([keeperExit, controlClosed]).then(([e]) => {
      // A keeper that died without reporting (SIGKILLed): its exit is all we know.
      settledExit(e);
      if (!started) reject(new Error(`spawnTree: the keeper exited (${e.code ?? e.signal}) before ${argv[0]} ran`));
    });
  });
}

function makeHandle(keeper: ChildProcess, pid: number, exited: Promise<TreeExit>, keeperExit: Promise<TreeExit>): TreeHandle {
  return {
    pid,
    keeperPid: keeper.pid as number,
    exited,
    async close() {
      if (keeper.exitCode === null && keeper.signalCode === null) keeper.kill('SIGTERM');
      await keeperExit;
    },
    stdin: keeper.stdin,
    stdout: keeper.stdout,
    stderr: keeper.stderr,
  };
}
