// tether status: an overview of services, as `pm2 ls` or `supervisorctl
// status` give one.
import { runCommand, printHelp, type Command } from './lib/program';
import { letters, parseOptions } from '../base/getopt';
import { humanDuration, overview, type ServiceRow, type ServiceState } from '../client/overview';

const cmd: Command = {
  name: 'status',
  usage: '[DIR | SCANDIR]... [--json]',
  help: `One row per service: a DIR is one service; a SCANDIR stands for each of its
non-dot subdirectories and their log/ subservices. Default: the current
directory as a SCANDIR. --json prints one array of objects.
Colours only on a terminal; NO_COLOR turns them off, FORCE_COLOR on.`,
};

const HEADERS = ['NAME', 'STATE', 'PID', 'UPTIME', 'READY', 'DEATHS', 'LAST', 'NORMALLY'];

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, () => {
    const { options, operands } = parseOptions(argv, letters('h', { help: { value: false }, json: { value: false } }), 'posix-long');
    if (options.has('help') || options.has('h')) {
      printHelp();
      return 0;
    }
    const rows = overview(operands.length > 0 ? operands : ['.']);
    if (options.has('json')) process.stdout.write(`${JSON.stringify(rows.map(jsonRow))}\n`);
    else process.stdout.write(table(rows, useColour()));
    return 0;
  });
}

function jsonRow(r: ServiceRow) {
  return {
    name: r.name, dir: r.dir, state: r.state, pid: r.pid, uptime: r.uptime, ready: r.ready,
    deaths: r.deaths, last: r.last, normallyUp: r.normallyUp, status: r.status, ...(r.error ? { error: r.error } : {}),
  };
}

function useColour(): boolean {
  if (process.env.NO_COLOR) return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return process.stdout.isTTY === true;
}

const COLOURS: Record<ServiceState, number> = {
  up: 32, paused: 33, finishing: 33, starting: 33, down: 0, 'wanted up': 31, 'not supervised': 2, unreadable: 31,
};

function table(rows: readonly ServiceRow[], colour: boolean): string {
  const cells = rows.map((r) => [
    r.name,
    r.state,
    r.pid === null ? '-' : String(r.pid),
    r.uptime === null ? '-' : humanDuration(r.uptime),
    r.ready === null ? '-' : r.ready ? 'yes' : 'no',
    String(r.deaths),
    r.last ?? '-',
    r.normallyUp ? 'up' : 'down',
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[], state?: ServiceState) => c.map((v, i) => {
    const padded = i === c.length - 1 ? v : v.padEnd(widths[i]);
    const code = i === 1 && state && colour ? COLOURS[state] : 0;
    return code ? `\x1b[${code}m${padded}\x1b[0m` : padded;
  }).join('  ').trimEnd();
  return [line(HEADERS), ...cells.map((c, i) => line(c, rows[i].state))].map((l) => `${l}\n`).join('');
}
