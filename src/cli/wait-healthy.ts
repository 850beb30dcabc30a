// tether wait-healthy: exits 0 once a URL answers HTTP 200, 99 on timeout.
import { readFileSync } from 'node:fs';
import { EXIT_TIMEOUT, EXIT_USAGE, UsageError, die, parseDuration, parseOptions } from '../daemon/cli';
import { waitHealthy } from '../daemon/health';

const USAGE = `usage: tether wait-healthy --url URL [--timeout 1m] [--interval 5s] [--insecure | --cacert FILE]

Asks URL (http or https) with GET every --interval until it answers 200,
then exits 0. After --timeout, exits 99 and shows the last error (a status
code or a connection error). One attempt may take max(interval, 2s).

  --insecure      accept any TLS certificate (self-signed, wrong name)
  --cacert FILE   also trust the CA certificates in FILE (PEM)

Durations: 500ms, 5s, 1m, 1h, 1m30s.
Exit: 0 healthy; 99 timed out; 100 usage.
`;

export function main(argv: string[]): void {
  let url: URL;
  let timeoutMs: number;
  let intervalMs: number;
  let insecure: boolean;
  let ca: Buffer | undefined;
  try {
    const { options, operands } = parseOptions(argv, {
      help: { short: 'h', value: false },
      url: { value: true },
      timeout: { value: true },
      interval: { value: true },
      insecure: { value: false },
      cacert: { value: true },
    }, false);
    if (options.has('help')) {
      process.stdout.write(USAGE);
      return;
    }
    if (operands.length) throw new UsageError(`unexpected argument: ${operands[0]}`);
    const u = options.get('url');
    if (typeof u !== 'string') throw new UsageError('--url URL is required');
    try {
      url = new URL(u);
    } catch {
      throw new UsageError(`not a URL: ${JSON.stringify(u)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`not an http or https URL: ${u}`);
    timeoutMs = duration(options.get('timeout'), '--timeout', 60_000);
    intervalMs = duration(options.get('interval'), '--interval', 5000);
    if (intervalMs === 0) throw new UsageError('--interval must be more than 0');
    insecure = options.has('insecure');
    const caFile = options.get('cacert');
    if (insecure && caFile !== undefined) throw new UsageError('--insecure and --cacert exclude each other');
    if (typeof caFile === 'string') {
      try {
        ca = readFileSync(caFile);
      } catch (err) {
        throw new UsageError(`unable to read --cacert ${caFile}: ${(err as NodeJS.ErrnoException).code}`);
      }
    }
  } catch (err) {
    if (err instanceof UsageError) die('wait-healthy', EXIT_USAGE, `${err.message}\n${USAGE.split('\n')[0]}`);
    throw err;
  }
  void waitHealthy(url, { timeoutMs, intervalMs, insecure, ca }).then((r) => {
    if (!r.healthy) die('wait-healthy', EXIT_TIMEOUT, `timed out after ${timeoutMs} ms waiting for ${url.href}: last error: ${r.lastError}`);
  });
}

function duration(text: string | true | undefined, what: string, dflt: number): number {
  if (text === undefined) return dflt;
  const ms = typeof text === 'string' ? parseDuration(text) : null;
  if (ms === null) throw new UsageError(`${what} needs a duration such as 5s, got ${JSON.stringify(text)}`);
  return ms;
}
