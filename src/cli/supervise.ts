// tether supervise DIR: s6-supervise, in TypeScript.
import { SuperviseFatal } from '../supervise/controldir';
import { SuperviseHost } from '../supervise/host';
import { collectStartupGarbage } from '../os/heap';

const USAGE = `usage: tether supervise DIR

Supervises the service directory DIR as s6-supervise does: runs DIR/run,
restarts it when it dies (at most once a second), and obeys s6-svc and
tether svc through DIR/supervise/control. Exits 0 after "s6-svc -x" once the
service is down; 100 on a usage error or if DIR is already supervised; 111
on a system error.
`;

export function main(argv: string[]): void {
  if (argv[0] === '-h' || argv[0] === '--help') {
    process.stdout.write(USAGE);
    return;
  }
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  if (args.length !== 1 || (args[0].startsWith('-') && argv[0] !== '--') || args[0] === '') {
    process.stderr.write(`tether supervise: fatal: usage: tether supervise DIR\n`);
    process.exitCode = 100;
    return;
  }
  const host = new SuperviseHost();
  try {
    host.start();
    host.supervise(args[0]);
    collectStartupGarbage();
  } catch (err) {
    const fatal = err instanceof SuperviseFatal ? err : new SuperviseFatal((err as Error).message, 111);
    process.stderr.write(`tether supervise: fatal: ${fatal.message}\n`);
    process.exit(fatal.exitCode);
  }
}
