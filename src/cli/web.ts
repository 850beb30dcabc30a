// tether web: the JSON API and the live status page, a client of the
// on-disk protocol like svc and svstat, so it serves any tree (tether's or
// s6's) and can run as a service of the tree it shows.
import { join } from 'node:path';
import { runCommand, warn, type Command } from './lib/program';
import { parseOptions } from '../base/getopt';
import { describe } from '../base/errno';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import { expandServices } from '../client/overview';
import { randomToken, type Listen } from '../web/guard';
import { bind, parseListen, stateDir, writeTokenFile } from '../web/listen';
import { WebServer } from '../web/server';
import { unlinkSync } from 'node:fs';

const cmd: Command = {
  name: 'web',
  usage: '[--listen unix:PATH | --listen 127.0.0.1:PORT] [--read-only] SCANDIR|DIR...',
  help: `Serves the services of each SCANDIR (or service DIR) over HTTP: a JSON API
(/v1/services, /v1/events...) and a live status page at /.
Default: a unix socket, SCANDIR/.tether/web.sock, mode 0600 in a 0700 directory
  (curl --unix-socket SOCKET http://localhost/v1/services).
--listen 127.0.0.1:PORT (or [::1]:PORT): TCP on loopback only, with a random
  token written to SCANDIR/.tether/web.token (0600) and shown once on stderr;
  the page asks for it and exchanges it for a cookie. PORT 0 picks a free one.
--read-only: status, events and logs, but every control is refused (403).
Stops on SIGTERM, SIGINT or SIGHUP. Exit: 100 usage, 111 system error.`,
};

export function main(argv: string[]): Promise<void> {
  return runCommand(cmd, async () => {
    const opts = parseArgs(argv);
    await serve(opts.operands, opts.listen, opts.readOnly);
    return 0;
  });
}

interface Args {
  operands: string[];
  listen: Listen | null;
  readOnly: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const spec = { 'read-only': { value: false }, listen: { value: true } };
  const { options, operands } = parseOptions(argv, spec, 'posix-long');
  const listen = options.get('listen');
  if (operands.length === 0) throw usageError('no scan directory or service directory');
  return { operands, listen: typeof listen === 'string' ? parseListen(listen) : null, readOnly: options.has('read-only') };
}

async function serve(operands: string[], given: Listen | null, readOnly: boolean): Promise<void> {
  expandServices(operands); // an operand that cannot be listed fails now (111), not on the first request
  const dir = given === null || given.kind === 'tcp' ? stateDir(operands[0]) : null;
  const listen: Listen = given ?? { kind: 'unix', path: join(dir!, 'web.sock') };
  const token = listen.kind === 'tcp' ? randomToken() : null;
  const server = new WebServer({ operands, listen, readOnly, token, warn });
  const port = await bind(server.http, listen);
  const cleanup: string[] = listen.kind === 'unix' ? [listen.path] : [];
  if (listen.kind === 'tcp') {
    server.guard.setPort(port);
    const tokenFile = join(dir!, 'web.token');
    writeTokenFile(tokenFile, token!);
    cleanup.push(tokenFile);
    const base = `http://${listen.host === '::1' ? '[::1]' : listen.host}:${port}/`;
    process.stderr.write(`tether web: listening on ${base} (token in ${tokenFile})\ntether web: open ${base}#token=${token}\n`);
  } else {
    process.stderr.write(`tether web: listening on unix:${listen.path}\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.close();
      for (const path of cleanup) unlinkQuietly(path);
      resolve();
    };
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, stop);
  });
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Failure(`unable to remove ${path}: ${describe(err)}`, EXIT_SYSTEM);
  }
}
