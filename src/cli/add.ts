// tether add: writes a new service directory into a scan directory, the
// shortest way from "I have a command" to a supervised service.
import { join, relative, isAbsolute } from 'node:path';
import { runCommand, type Command } from './lib/program';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import { describe } from '../base/errno';
import { parseOptions } from '../base/getopt';
import { SCANDIR_ENV } from '../client/scandir';
import { createServiceDir, ServiceDirError, type NewService } from '../servicedir/create';

const cmd: Command = {
  name: 'add',
  usage: 'NAME [--dir SCANDIR] [--env K=V]... [--cwd DIR] [--notify] [--log] -- COMMAND...',
  help: `Writes SCANDIR/NAME, an ordinary s6 service directory:
  run              execs COMMAND (each word quoted as given), stderr to the
                   logger with --log, in DIR with --cwd
  env/K            with --env K=V: one file per variable, read by run at
                   each start (as s6-envdir reads them)
  notification-fd  with --notify: 3; the service writes a newline to fd 3
                   once it is ready (svc -wU, svwait -U and status use it)
  log/run          with --log: tether log keeps the output in log/main
SCANDIR: --dir, else $${SCANDIR_ENV}, else ./services (created if missing).
NAME must not exist yet. The directory is written aside, then renamed into
place in one step, so a running scanner never sees half of it.
Exit: 0; 100 usage (bad name, bad variable, no command); 111 NAME exists or
the directory cannot be written.`,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const args = parse(argv);
    let written: string[];
    try {
      written = createServiceDir(args);
    } catch (err) {
      if (err instanceof ServiceDirError) throw err.usage ? usageError(err.message) : new Failure(err.message, EXIT_SYSTEM);
      throw new Failure(`unable to write ${join(args.scandir, args.name)}: ${describe(err)}`, EXIT_SYSTEM);
    }
    process.stdout.write(report(args, written));
    return 0;
  });
}

const SPEC = {
  dir: { value: true }, env: { value: true }, cwd: { value: true }, notify: { value: false }, log: { value: false },
};

/** Options and NAME before `--`, in any order; the command after it, word for word. */
function parse(argv: readonly string[]): NewService {
  const dashdash = argv.indexOf('--');
  const head = dashdash < 0 ? argv : argv.slice(0, dashdash);
  const { options, sequence, operands } = parseOptions(head, SPEC, 'anywhere');
  const text = (name: string) => options.get(name) as string | undefined;
  const out: NewService = {
    scandir: text('dir') ?? (process.env[SCANDIR_ENV] || 'services'),
    name: operands[0] ?? '',
    command: dashdash < 0 ? [] : argv.slice(dashdash + 1),
    cwd: text('cwd'),
    notify: options.has('notify'),
    log: options.has('log'),
    env: Object.fromEntries(sequence.filter((o) => o.opt === 'env').map((o) => envPair(o.arg ?? ''))),
  };
  if (out.name === '') throw usageError('no service name');
  if (operands.length > 1) throw usageError(`unexpected ${JSON.stringify(operands[1])}: the command goes after --`);
  if (out.command.length === 0) throw usageError('no command after --');
  return out;
}

function envPair(kv: string): [string, string] {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw usageError(`--env needs K=V, not ${JSON.stringify(kv)}`);
  return [kv.slice(0, eq), kv.slice(eq + 1)];
}

function report(args: NewService, written: readonly string[]): string {
  const dir = join(args.scandir, args.name);
  const scan = shown(args.scandir);
  const lines = [`tether add: wrote ${shown(dir)}/: ${written.join(', ')}`];
  lines.push(`  start the tree:         tether svscan ${scan}`);
  lines.push(`  or, if it already runs: tether svscanctl -a ${scan}`);
  lines.push(`  then:                   tether status ${scan}`);
  return `${lines.join('\n')}\n`;
}

/** A path as the user would type it from here. */
function shown(path: string): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') ? rel : path;
}
