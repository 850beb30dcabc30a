// The conventions every command shares (issue 13): a wrong command line is
// one line on stderr and exit 100; an internal error in any command, the
// long-running ones included, is one line on stderr and exit 111.
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT, exitOf, makeService, startTether, tempDir, tether, waitForFile } from '../lib/harness';

/** Each command with a wrong command line: an unknown option, a missing value, a bad number, a missing operand. */
const BAD_COMMAND_LINES: ReadonlyArray<readonly string[]> = [
  ['svc', '--bogus', '/x'], ['svc', '-T'], ['svstat', '-Z', '/x'], ['svstat'], ['svwait', '-t', '1x', '/x'],
  ['svlisten', '-u', '/x'], ['svok'], ['svdt', '-q', '/x'], ['svdt-clear'], ['status', '--bogus'],
  ['supervise', '-x', '/x'], ['supervise', 'a', 'b'], ['svscan', '-t', 'x', '/x'], ['svscan', '--supervisor'],
  ['svscanctl', '-x', '/x'], ['log', '-n', 'many', '/x'], ['log'], ['log', '-d', '1', '/x'],
  ['background-watch', '-t', 'x', 'pidfile', 'true'], ['background-watch', '-d', '2', 'pidfile', 'true'],
  ['pidproxy', '-t'], ['pidfile', 'kill', '--pid-file'], ['pidfile', 'claim', '--pid', '1x', '--pid-file', '/x'],
  ['wait-healthy', '--url'], ['wait-healthy', '--url', 'http://127.0.0.1:1/', '--interval', 'often'],
  ['tree-keeper', '--grace', 'x', '--owner', '1', '--', 'true'],
];

t.test('a wrong command line: exit 100, one line naming the command, its synopsis and the fault', async (t) => {
  for (const args of BAD_COMMAND_LINES) {
    const r = await tether([...args]);
    const name = args[0];
    t.equal(r.code, 100, args.join(' '));
    t.match(r.stderr, new RegExp(`^tether ${name}: fatal: usage: tether ${name} .*\\(usage error: [^\\n]+\\)\\n$`), `${args.join(' ')}: ${r.stderr}`);
    t.equal(r.stdout, '');
  }
});

/** Every command bin/tether.js dispatches to: one file each in src/cli/ (help.ts is `tether --help`). */
const COMMANDS = readdirSync(join(ROOT, 'src', 'cli')).filter((f) => f.endsWith('.ts') && f !== 'help.ts').map((f) => f.slice(0, -'.ts'.length));
/** svc's -h is SIGHUP, as in s6 (svscanctl's -h, a rescan, is the help when it comes alone). */
const H_IS_A_COMMAND = new Set(['svc']);

t.test('every command prints its help for --help (and -h where -h means nothing else): stdout, exit 0', async (t) => {
  t.ok(COMMANDS.length >= 20, `${COMMANDS.length} commands`);
  for (const name of COMMANDS) {
    const forms = H_IS_A_COMMAND.has(name) ? [['--help']] : [['--help'], ['-h']];
    for (const form of forms) {
      const r = await tether([name, ...form]);
      const what = `${name} ${form.join(' ')}`;
      t.equal(r.code, 0, what);
      // The synopsis, then at least one more line: the command's own help text.
      t.match(r.stdout, new RegExp(`^usage: tether ${name} [^\\n]+\\n(.*\\n)+$`), what);
      t.equal(r.stderr, '', what);
    }
  }
});

t.test('every command refuses an unknown option, long or short: exit 100, one line on stderr', async (t) => {
  for (const name of COMMANDS) {
    for (const [bad, named] of [['--no-such-option', '--no-such-option'], ['-Z', '-Z'], ['--help=yes', '--help']]) {
      const r = await tether([name, bad, 'operand']);
      const what = `${name} ${bad}`;
      t.equal(r.code, 100, what);
      t.match(r.stderr, new RegExp(`^tether ${name}: fatal: usage: tether ${name} [^\\n]*\\(usage error: [^\\n]*${named}[^\\n]*\\)\\n$`), `${what}: ${r.stderr}`);
      t.equal(r.stdout, '', what);
    }
  }
});

t.test('a wrong command line wins over --help, which comes after the options are parsed', async (t) => {
  for (const args of [['svstat', '--help', '-Z'], ['log', '--help', '--bogus'], ['svc', '--help', '-T']]) {
    const r = await tether(args);
    t.equal(r.code, 100, args.join(' '));
    t.equal(r.stdout, '', args.join(' '));
  }
});

/**
 * A module preloaded through NODE_OPTIONS, from outside the product, that
 * raises an error nothing in tether catches when the process gets SIGUSR2
 * (which these commands leave to it): a thrown exception or a rejected
 * promise. It takes itself out of the environment, so children do not load it.
 */
function faultModule(dir: string, kind: 'throw' | 'reject'): NodeJS.ProcessEnv {
  const path = join(dir, `fault-${kind}.cjs`);
  const raise = kind === 'throw' ? `throw new Error('injected fault')` : `void Promise.reject(new Error('injected fault'))`;
  writeFileSync(path, `delete process.env.NODE_OPTIONS;\nprocess.on('SIGUSR2', () => { ${raise}; });\n`);
  return { ...process.env, NODE_OPTIONS: `--require ${path}` };
}

interface LongRunning {
  args: string[];
  /** Resolves once the command is past its start-up (its handlers are in place). */
  started: () => Promise<void>;
  /** Ends what the command left behind. */
  cleanup?: () => void;
}

/**
 * A pid file writer whose daemon is a `sleep`. The pid file appears whole
 * (written aside, then renamed), so once it exists it names the daemon,
 * which the clean-up kills by that pid, and only if it is a real one: a
 * kill(0) would hit the test's own process group.
 */
function daemonizing(pidFile: string): { prog: string[]; cleanup: () => void } {
  return {
    prog: ['/bin/sh', '-c', `sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}`],
    cleanup: () => {
      const m = /^([0-9]+)\n$/.exec(readFileSync(pidFile, 'utf8'));
      const pid = m ? Number(m[1]) : 0;
      if (pid <= 1) throw new Error(`${pidFile} holds no pid`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    },
  };
}

t.test('an internal error (exception or rejection) ends each long-running command with one line and 111', async (t) => {
  const root = tempDir(t);
  const server = createServer((_req, res) => res.writeHead(503).end());
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  let n = 0;
  const cases = (): LongRunning[] => {
    const dir = join(root, `case-${++n}`);
    mkdirSync(dir);
    // `down`: the supervisor starts no service that would outlive it.
    const service = makeService(join(dir, 'svc'), 'exec sleep 1000', { down: '' });
    mkdirSync(join(dir, 'scan'));
    const bw = daemonizing(join(dir, 'bw.pid'));
    const pp = daemonizing(join(dir, 'pp.pid'));
    let requested: () => void;
    const request = new Promise<void>((res) => (requested = res));
    server.once('request', () => requested());
    return [
      { args: ['supervise', service], started: () => waitForFile(join(service, 'supervise', 'status')) },
      { args: ['svscan', join(dir, 'scan')], started: () => waitForFile(join(dir, 'scan', '.s6-svscan', 'control')) },
      { args: ['log', join(dir, 'logdir')], started: () => waitForFile(join(dir, 'logdir', 'current')) },
      { args: ['background-watch', join(dir, 'bw.pid'), ...bw.prog], started: () => waitForFile(join(dir, 'bw.pid')), cleanup: bw.cleanup },
      { args: ['pidproxy', join(dir, 'pp.pid'), ...pp.prog], started: () => waitForFile(join(dir, 'pp.pid')), cleanup: pp.cleanup },
      { args: ['wait-healthy', '--url', `http://127.0.0.1:${port}/`, '--timeout', '1m', '--interval', '1m'], started: () => request },
    ];
  };
  for (const kind of ['throw', 'reject'] as const) {
    const env = faultModule(root, kind);
    for (const c of cases()) {
      const name = c.args[0];
      const child = startTether(t, c.args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = exitOf(child);
      await c.started();
      process.kill(child.pid as number, 'SIGUSR2');
      const ex = await exited;
      c.cleanup?.();
      t.equal(ex.code, 111, `${kind}: ${name} exits 111`);
      t.match(stderr, new RegExp(`^tether ${name}: fatal: Error: injected fault \\(internal error[^\\n]*\\)\\n$`), `${kind}: ${name}: one line: ${stderr}`);
    }
  }
});
