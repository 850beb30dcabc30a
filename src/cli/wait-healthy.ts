// tether wait-healthy: exits 0 once a URL answers HTTP 200, 99 on timeout.
import { readFileSync } from 'node:fs';
import { parseDuration, parseOptions } from '../base/getopt';
import { EXIT_TIMEOUT, usageError } from '../base/exit';
import { die, dieOn, exitOnInternalError, setProgram, type Command } from './lib/program';
import { waitHealthy } from '../daemon/health';
import { errnoOf } from '../base/errno';

const cmd: Command = {
  name: 'wait-healthy',
  usage: '--url URL [--timeout 1m] [--interval 5s] [--insecure | --cacert FILE]',
  help: `Asks URL (http or https) with GET every --interval until it answers 200,
then exits 0. After --timeout, exits 99 and shows the last error (a status
code or a connection error). One attempt may take max(interval, 2s).

  --insecure      accept any TLS certificate (self-signed, wrong name)
  --cacert FILE   also trust the CA certificates in FILE (PEM)

Durations: 500ms, 5s, 1m, 1h, 1m30s.
Exit: 0 healthy; 99 timed out; 100 usage.`,
};

export function main(argv: string[]): void {
  setProgram(cmd);
  exitOnInternalError();
  let url: URL;
  let timeoutMs: number;
  let intervalMs: number;
  let insecure: boolean;
  let ca: Buffer | undefined;
  try {
    const { options, operands } = parseOptions(argv, {
      url: { value: true },
      timeout: { value: true },
      interval: { value: true },
      insecure: { value: false },
      cacert: { value: true },
    }, 'anywhere');
    if (operands.length) throw usageError(`unexpected argument: ${operands[0]}`);
    const u = options.get('url');
    if (typeof u !== 'string') throw usageError('--url URL is required');
    try {
      url = new URL(u);
    } catch {
      throw usageError(`not a URL: ${JSON.stringify(u)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`not an http or https URL: ${u}`);
    timeoutMs = duration(options.get('timeout'), '--timeout', 60_000);
    intervalMs = duration(options.get('interval'), '--interval', 5000);
    if (intervalMs === 0) throw usageError('--interval must be more than 0');
    insecure = options.has('insecure');
    const caFile = options.get('cacert');
    if (insecure && caFile !== undefined) throw usageError('--insecure and --cacert exclude each other');
    if (typeof caFile === 'string') {
      try {
        ca = readFileSync(caFile);
      } catch (err) {
        throw usageError(`unable to read --cacert ${caFile}: ${errnoOf(err)}`);
      }
    }
  } catch (err) {
    dieOn(err);
  }
  waitHealthy(url, { timeoutMs, intervalMs, insecure, ca }).then((r) => {
    if (!r.healthy) die(EXIT_TIMEOUT, `timed out after ${timeoutMs} ms waiting for ${url.href}: last error: ${r.lastError}`);
  }, dieOn);
}

function duration(text: string | true | undefined, what: string, dflt: number): number {
  if (text === undefined) return dflt;
  const ms = typeof text === 'string' ? parseDuration(text) : null;
  if (ms === null) throw usageError(`${what} needs a duration such as 5s, got ${JSON.stringify(text)}`);
  return ms;
}
