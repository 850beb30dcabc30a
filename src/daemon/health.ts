// wait-healthy: waits until a URL answers HTTP 200. Asking again every
// interval is the protocol here (the state lives in another process, behind
// HTTP), not a local poll: nothing on this machine could signal us instead.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { errnoOf } from '../base/errno';

export interface HealthOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Accept any TLS certificate (self-signed, wrong host). */
  insecure?: boolean;
  /** Extra trusted CA certificates (PEM), e.g. a self-signed server's own. */
  ca?: string | Buffer;
}

export type HealthResult = { healthy: true } | { healthy: false; lastError: string };

/** The longest one attempt may take (bounded by the deadline too). */
export function attemptTimeoutMs(intervalMs: number): number {
  return Math.max(intervalMs, 2000);
}

export function waitHealthy(url: URL, opts: HealthOptions): Promise<HealthResult> {
  return new Promise((resolve) => {
    const deadline = Date.now() + opts.timeoutMs;
    let lastError = 'no answer yet';
    let current: ClientRequest | null = null;
    let next: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (r: HealthResult) => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      clearTimeout(next);
      current?.destroy();
      resolve(r);
    };
    const overall = setTimeout(() => finish({ healthy: false, lastError }), opts.timeoutMs);
    const attempt = () => {
      const started = Date.now();
      const left = deadline - started;
      if (left <= 0) return finish({ healthy: false, lastError });
      current = get(url, opts, Math.min(left, attemptTimeoutMs(opts.intervalMs)), (err, res) => {
        current = null;
        if (done) return;
        if (res?.statusCode === 200) return finish({ healthy: true });
        lastError = err ? describeError(err) : `HTTP ${res?.statusCode} ${res?.statusMessage ?? ''}`.trim();
        next = setTimeout(attempt, Math.max(0, started + opts.intervalMs - Date.now()));
      });
    };
    attempt();
  });
}

function get(url: URL, opts: HealthOptions, timeoutMs: number, cb: (err: Error | null, res?: IncomingMessage) => void): ClientRequest {
  let called = false;
  const once = (err: Error | null, res?: IncomingMessage) => {
    if (!called) {
      called = true;
      cb(err, res);
    }
  };
  const common = { method: 'GET', agent: false as const, headers: { 'user-agent': 'tether-wait-healthy' } };
  const req = url.protocol === 'https:'
    ? httpsRequest(url, { ...common, rejectUnauthorized: !opts.insecure, ca: opts.ca })
    : httpRequest(url, common);
  req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  req.on('error', (err) => once(err));
  req.on('response', (res) => {
    res.resume(); // the body does not matter; drain it so the socket closes
    once(null, res);
  });
  req.end();
  return req;
}

function describeError(err: Error): string {
  const code = errnoOf(err);
  if (err instanceof AggregateError && err.errors.length) return describeError(err.errors[err.errors.length - 1] as Error);
  const msg = err.message || code || String(err);
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}
