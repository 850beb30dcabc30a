// tether svstat: print a service's status as the newest s6-svstat does.
import { runCommand, type Command } from './lib/program';
import { letters, parseOptions } from '../base/getopt';
import { EXIT_SYSTEM, EXIT_USAGE, Failure, usageError } from '../base/exit';
import { describe } from '../base/errno';
import {
  formatField, formatLegacy, isNormallyUp, isStatusField, readStatusRecord, toServiceStatus, type StatusField,
} from '../client/status';
import { isSupervised, notSupervised } from '../client/supervised';
import { SCANDIR_HELP, SCANDIR_OPTION, scandirOf, serviceDir } from '../client/scandir';

const cmd: Command = {
  name: 'svstat',
  usage: '[-uwNrpgest | -o up,wantedup,normallyup,ready,paused,pid,pgid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor] [-n] [--json] [--scandir SCANDIR] DIR|NAME',
  help: `Without options: one line, "up (pid P pgid P) S seconds..." or "down (...) S seconds...".
-o prints the named fields, space-separated; -u -w -N -r -p -g -e -s -t are
short for up wantedup normallyup ready pid pgid exitcode signal updownfor.
-n prints signal numbers. --json prints every field as one typed object.
Exit: 0; 1 no supervisor running; 100 usage; 111 status unreadable.
pgid is the process group /proc shows (an adopted daemon's own group).
${SCANDIR_HELP}`,
};

const SHORT_FIELDS: Readonly<Record<string, StatusField>> = {
  u: 'up', w: 'wantedup', N: 'normallyup', r: 'ready', p: 'pid', g: 'pgid', e: 'exitcode', s: 'signal', t: 'updownfor',
};
const MAX_FIELDS = 16;

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const { options, sequence, operands } = parseOptions(argv, letters('no:uwNrpgest', { json: { value: false }, ...SCANDIR_OPTION }), 'posix-long');
    let numeric = false;
    const fields: StatusField[] = [];
    for (const { opt, arg = '' } of sequence) {
      if (opt === 'n') numeric = true;
      else if (opt === 'o') fields.push(...parseFields(arg));
      else if (Object.hasOwn(SHORT_FIELDS, opt)) fields.push(SHORT_FIELDS[opt]);
      if (fields.length > MAX_FIELDS) throw new Failure('too many option fields', EXIT_USAGE);
    }
    if (operands[0] === undefined) throw usageError('no service directory');
    const dir = serviceDir(operands[0], scandirOf(options));
    let supervised: boolean;
    try {
      supervised = isSupervised(dir);
    } catch (err) {
      throw new Failure(`unable to check ${dir}: ${describe(err)}`, EXIT_SYSTEM);
    }
    if (!supervised) throw new Failure(notSupervised(dir), 1);
    const rec = readStatusRecord(dir);
    const st = toServiceStatus(rec, isNormallyUp(dir));
    let out: string;
    if (options.has('json')) out = JSON.stringify(st);
    else if (fields.length === 0) out = formatLegacy(rec, st, numeric);
    else out = fields.map((f) => formatField(st, f)).join(' ');
    process.stdout.write(`${out}\n`);
    return 0;
  });
}

function parseFields(arg: string): StatusField[] {
  const out: StatusField[] = [];
  for (let rest = arg; rest.length > 0;) {
    const comma = rest.indexOf(',');
    const name = comma < 0 ? rest : rest.slice(0, comma);
    if (!isStatusField(name)) throw new Failure(`invalid option field: ${name}`, EXIT_USAGE);
    out.push(name);
    rest = comma < 0 ? '' : rest.slice(comma + 1);
  }
  return out;
}
