// tether web test plumbing: start the server as a real process, talk to it
// over its unix socket or 127.0.0.1, and read its event streams.
import type { ChildProcess } from 'node:child_process';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { BOUND_MS, bounded, exitOf, startTether, waitForOutput, type Teardown } from '../lib/harness';

export interface WebHandle {
  child: ChildProcess;
  /** The unix socket, or null over TCP. */
  socket: string | null;
  /** The TCP port, or 0 on a unix socket. */
  port: number;
  /** The TCP address listened on. */
  address: '127.0.0.1' | '::1';
  token: string | null;
  /** What the server printed on stderr so far. */
  stderr(): string;
  /** SIGTERM, and wait for its exit. */
  stop(): Promise<void>;
}

/** Starts `tether web ARGS...` and waits for its "listening" line. */
export async function startWeb(t: Teardown, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<WebHandle> {
  const child = startTether(t, ['web', ...args], { env });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const line = await Promise.race([
    waitForOutput(child, /listening on/, BOUND_MS, 'stderr'),
    exitOf(child).then((e) => {
      throw new Error(`tether web exited (${e.code}) before listening: ${err}`);
    }),
  ]);
  const unix = /listening on unix:(.*)$/.exec(line);
  const tcp = /listening on http:\/\/(127\.0\.0\.1|\[::1\]):([0-9]+)\//.exec(line);
  let token: string | null = null;
  if (tcp) {
    // Both lines come in one write; the second may already be in `err`.
    const open = /#token=/.test(err) ? err : await waitForOutput(child, /#token=/, BOUND_MS, 'stderr');
    token = /#token=(\S+)/.exec(open)?.[1] ?? null;
  }
  return {
    child,
    socket: unix ? unix[1] : null,
    port: tcp ? Number(tcp[2]) : 0,
    address: tcp && tcp[1] === '[::1]' ? '::1' : '127.0.0.1',
    token,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exitOf(child);
    },
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

function target(web: WebHandle, headers: Record<string, string>) {
  const host = web.socket ? 'localhost' : web.address === '::1' ? `[::1]:${web.port}` : `127.0.0.1:${web.port}`;
  return web.socket
    ? { socketPath: web.socket, headers: { host, ...headers } }
    : { host: web.address, port: web.port, headers: { host, ...headers } };
}

/** One request, its whole answer read (bounded). */
export function call(web: WebHandle, path: string, opts: CallOptions = {}): Promise<Reply> {
  return bounded(new Promise<Reply>((resolve, reject) => {
    const req = request({ ...target(web, opts.headers ?? {}), path, method: opts.method ?? 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: any = null;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON (the page)
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  }), BOUND_MS, `${opts.method ?? 'GET'} ${path}`);
}

/** Headers that authenticate over TCP (bearer) or nothing on the socket. */
export function auth(web: WebHandle): Record<string, string> {
  return web.token ? { authorization: `Bearer ${web.token}` } : {};
}

/** A POST as the API documents it: the CSRF token from /v1/session. */
export async function post(web: WebHandle, path: string, body?: unknown): Promise<Reply> {
  const session = await call(web, '/v1/session', { headers: auth(web) });
  if (session.status !== 200) throw new Error(`GET /v1/session: ${session.status} ${session.text}`);
  return call(web, path, {
    method: 'POST',
    headers: { ...auth(web), 'x-tether-csrf': session.json.csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export interface SseRecord {
  event: string;
  data: any;
}

/** An open event stream: records as they come, and waits on them. */
export class EventStream {
  readonly records: SseRecord[] = [];
  comments = 0;
  ended = false;
  private buffer = '';
  private waiters: Array<() => void> = [];
  private constructor(readonly res: IncomingMessage, private readonly destroy: () => void) {
    res.setEncoding('utf8');
    res.on('data', (d: string) => this.feed(d));
    res.on('end', () => {
      this.ended = true;
      this.wake();
    });
    res.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  static open(web: WebHandle, path = '/v1/events', headers: Record<string, string> = auth(web)): Promise<EventStream> {
    return bounded(new Promise<EventStream>((resolve, reject) => {
      const req = request({ ...target(web, headers), path }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode}`));
        else resolve(new EventStream(res, () => req.destroy()));
      });
      req.on('error', reject);
      req.end();
    }), BOUND_MS, `event stream ${path}`);
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments++;
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.records.push({ event, data: JSON.parse(data.join('\n')) });
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first record (from `from` on) that `pred` accepts. */
  waitFor(pred: (r: SseRecord) => boolean, what: string, from = 0, ms = BOUND_MS): Promise<SseRecord> {
    return bounded(new Promise<SseRecord>((resolve, reject) => {
      const check = () => {
        const hit = this.records.slice(from).find(pred);
        if (hit) return resolve(hit);
        if (this.ended) return reject(new Error(`stream ended before ${what}`));
        this.waiters.push(check);
      };
      check();
    }), ms, what);
  }

  close(): void {
    this.destroy();
  }
}

/** The default socket of a scan directory. */
export function defaultSocket(scandir: string): string {
  return join(scandir, '.tether', 'web.sock');
}
