// tether logs: a service's log, archives and current, oldest first; -f
// follows it across rotations; several services are merged by time.
import { runCommand, type Command } from './lib/program';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import { letters, parseOptions, parseUint } from '../base/getopt';
import { closeCursors, findLogSources, followLogs, readHistory, type LogRecord } from '../log/reader';
import { isoStamp, localStamp, parseTime } from '../log/timefmt';
import type { Tain } from '../wire/tain';

const cmd: Command = {
  name: 'logs',
  usage: '[-f] [-n N] [--since TIME] [--until TIME] [--json] [--raw] DIR|SCANDIR...',
  help: `Prints the lines of logdirs (a logdir, a service directory's log/*, or every service of a
scan directory), oldest first, stamps in local time as s6-tai64nlocal prints them.
  -f            follow: print new lines as they are logged, across rotations
  -n N          only the last N lines (of all the services together)
  --since TIME  lines from TIME on; --until TIME  lines up to TIME. TIME: 2026-11-30,
                "2026-11-30 14:05:00" (local time), 15m / 2h / 7d ago, or a TAI64N label
  --json        one object per line: {"ts": ISO 8601 UTC or null, "service", "line"}
  --raw         the lines as stored (TAI64N stamps as they are)
With several services each line is tagged with its service's name.`,
};

interface LogsArgs {
  follow: boolean;
  lines?: number;
  since?: Tain;
  until?: Tain;
  json: boolean;
  raw: boolean;
  paths: string[];
}

function timeOption(value: string | true | undefined): Tain | undefined {
  if (typeof value !== 'string') return undefined;
  const t = parseTime(value);
  if (!t) throw usageError(`invalid time: ${value}`);
  return t;
}

function parseArgs(argv: string[]): LogsArgs {
  const spec = letters('fn:', { json: { value: false }, raw: { value: false }, since: { value: true }, until: { value: true } });
  const { options, operands } = parseOptions(argv, spec, 'anywhere');
  const n = options.get('n');
  const out: LogsArgs = {
    follow: options.has('f'), json: options.has('json'), raw: options.has('raw'), paths: operands,
    lines: n === undefined ? undefined : parseUint(n, 'line count'),
    since: timeOption(options.get('since')), until: timeOption(options.get('until')),
  };
  if (out.json && out.raw) throw usageError('--json and --raw exclude each other');
  if (out.follow && out.until) throw usageError('-f and --until exclude each other');
  if (out.paths.length === 0) throw usageError('no log directory');
  return out;
}

/** Output is gathered and written in large pieces: a history can be millions of lines. */
class Printer {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly args: LogsArgs, private readonly tagged: boolean) {}

  add(r: LogRecord): void {
    if (this.args.json) {
      this.push(Buffer.from(`${JSON.stringify({ ts: r.ts ? isoStamp(r.ts) : null, service: r.service, line: r.line.toString('utf8') })}\n`));
      return;
    }
    if (this.tagged) this.push(Buffer.from(`${r.service} | `));
    if (this.args.raw || !r.ts) this.push(r.raw);
    else {
      this.push(Buffer.from(`${localStamp(r.ts)} `));
      this.push(r.line);
    }
    this.push(Buffer.from('\n'));
  }

  private push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= 256 * 1024) this.flush();
  }

  flush(): void {
    if (this.size === 0) return;
    process.stdout.write(Buffer.concat(this.parts, this.size));
    this.parts = [];
    this.size = 0;
  }
}

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const args = parseArgs(argv);
    let sources;
    try {
      sources = findLogSources(args.paths);
    } catch (err) {
      throw new Failure((err as Error).message, EXIT_SYSTEM);
    }
    const printer = new Printer(args, sources.length > 1);
    const { records, cursors } = readHistory(sources, { lines: args.lines, since: args.since, until: args.until });
    for (const r of records) printer.add(r);
    printer.flush();
    if (!args.follow) {
      closeCursors(cursors);
      return 0;
    }
    // Output to a closed pipe (`| head`) ends the follow quietly.
    process.stdout.on('error', () => process.exit(0));
    await new Promise<void>((_resolve, reject) => {
      followLogs(cursors, (batch) => {
        for (const r of batch) printer.add(r);
        printer.flush();
      }, (err) => reject(new Failure(`unable to follow: ${err.message}`, EXIT_SYSTEM)));
    });
    return 0;
  });
}
