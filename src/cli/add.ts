// tether add: writes a new service directory into a scan directory, the
// shortest way from "I have a command" to a supervised service.
import { join, relative, isAbsolute } from 'node:path';
import { runCommand, printHelp, type Command } from '../client/cli';
import { ClientError, EXIT_SYSTEM, UsageError, describe } from '../client/errors';
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

interface AddArgs extends NewService {
  help: boolean;
}

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const args = parse(argv);
    if (args.help) {
      printHelp(cmd);
      return 0;
    }
    let written: string[];
    try {
      written = createServiceDir(args);
    } catch (err) {
      if (err instanceof ServiceDirError) throw err.usage ? new UsageError(err.message) : new ClientError(err.message, EXIT_SYSTEM);
      throw new ClientError(`unable to write ${join(args.scandir, args.name)}: ${describe(err)}`, EXIT_SYSTEM);
    }
    process.stdout.write(report(args, written));
    return 0;
  });
}

function parse(argv: readonly string[]): AddArgs {
  const out: AddArgs = { help: false, scandir: process.env[SCANDIR_ENV] || 'services', name: '', command: [], env: {} };
  const env: Record<string, string> = {};
  let i = 0;
  const value = (opt: string) => {
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${opt} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') {
      out.command = argv.slice(i + 1);
      break;
    }
    const [opt, inline] = word.startsWith('--') && word.includes('=') && !word.startsWith('--env=')
      ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]
      : [word, undefined];
    const arg = () => inline ?? value(opt);
    if (opt === '-h' || opt === '--help') out.help = true;
    else if (opt === '--dir') out.scandir = arg();
    else if (opt === '--cwd') out.cwd = arg();
    else if (opt === '--notify') out.notify = true;
    else if (opt === '--log') out.log = true;
    else if (opt === '--env' || opt.startsWith('--env=')) addEnv(env, opt.startsWith('--env=') ? opt.slice(6) : value(opt));
    else if (opt.startsWith('-')) throw new UsageError(`unknown option: ${opt}`);
    else if (out.name === '') out.name = opt;
    else throw new UsageError(`unexpected ${JSON.stringify(word)}: the command goes after --`);
  }
  if (out.help) return out;
  if (out.name === '') throw new UsageError('no service name');
  if (out.command.length === 0) throw new UsageError('no command after --');
  out.env = env;
  return out;
}

function addEnv(env: Record<string, string>, kv: string): void {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new UsageError(`--env needs K=V, not ${JSON.stringify(kv)}`);
  env[kv.slice(0, eq)] = kv.slice(eq + 1);
}

function report(args: AddArgs, written: readonly string[]): string {
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
