// tether tai64nlocal: a filter like s6-tai64nlocal, for reading logs:
//   tether tai64nlocal < services/web/log/main/current
import { runCommand, type Command } from './lib/program';
import { parseOptions } from '../base/getopt';
import { usageError } from '../base/exit';
import { localizeLine } from '../wire/localtime';

const cmd: Command = {
  name: 'tai64nlocal',
  usage: '< FILE',
  help: `Copies stdin to stdout, replacing a TAI64N label at the start of a line
(@ and 24 hex digits, as tether log and s6-log write them) by the local time,
YYYY-MM-DD HH:MM:SS.nnnnnnnnn, as s6-tai64nlocal does. TZ sets the zone.
Exit: 0; 100 usage; 111 read or write error.`,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const { operands } = parseOptions(argv, {}, 'posix-long');
    if (operands.length > 0) throw usageError('no arguments: it reads stdin');
    await filter(process.stdin, process.stdout);
    return 0;
  });
}

/** Line by line, bytes kept as they are (latin1 in, latin1 out). */
async function filter(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  let partial = '';
  const write = (text: string) => new Promise<void>((resolve, reject) => {
    output.write(Buffer.from(text, 'latin1'), (err) => (err ? reject(err) : resolve()));
  });
  for await (const chunk of input) {
    const text = partial + (chunk as Buffer).toString('latin1');
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      partial = text;
      continue;
    }
    partial = text.slice(end + 1);
    await write(text.slice(0, end + 1).split('\n').map(localizeLine).join('\n'));
  }
  if (partial !== '') await write(localizeLine(partial));
}
