// `tether web`'s request handling: the guard first, then the page or the
// JSON API (v1). Every answer is JSON or the page; every error is JSON with
// a status that fits.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { describe } from '../base/errno';
import { ACTIONS, parseControl, runControl } from './control';
import { Guard, type Listen } from './guard';
import { COMMON_HEADERS, HttpError, pathSegments, readJsonBody, sendError, sendJson } from './http';
import { Housekeeping, NODE_CHECK_OFF } from './housekeeping';
import { EventHub, HEARTBEAT, type Follower } from './hub';
import { followLog, parseLines, sendLog } from './logs';
import { loadAssets, type Asset } from './page';
import { ServiceSet } from './services';

export interface WebOptions {
  operands: readonly string[];
  listen: Listen;
  readOnly: boolean;
  /** The TCP token; null on a unix socket. */
  token: string | null;
  warn: (message: string) => void;
}

export class WebServer {
  readonly guard: Guard;
  readonly services: ServiceSet;
  readonly hub: EventHub;
  readonly http: Server;
  private readonly assets: Map<string, Asset>;
  private readonly housekeeping: Housekeeping;
  /** Open log streams, for the heartbeat. */
  private readonly logStreams = new Set<Follower>();

  constructor(private readonly opts: WebOptions) {
    this.guard = new Guard(opts.listen, opts.token);
    this.services = new ServiceSet(opts.operands, opts.warn);
    this.hub = new EventHub(this.services, opts.warn);
    this.assets = loadAssets();
    // An event stream or a long wait must not be cut by a request timeout;
    // the headers' deadline is kept by the housekeeping tick.
    this.http = createServer({ requestTimeout: 0, connectionsCheckingInterval: NODE_CHECK_OFF }, (req, res) => void this.handle(req, res));
    this.housekeeping = new Housekeeping(this.http, () => this.beat());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.guard.checkOrigin(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/v1' || url.pathname.startsWith('/v1/')) await this.api(req, res, url);
      else this.page(req, res, url.pathname);
    } catch (err) {
      if (!(err instanceof HttpError)) this.opts.warn(`${req.method} ${req.url}: ${describe(err)}`);
      sendError(res, err instanceof HttpError ? err : new HttpError(500, `internal error: ${describe(err)}`));
    }
  }

  private page(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (path === '/favicon.ico') {
      // Browsers ask for it unprompted; there is none, and a 404 would be logged as an error.
      res.writeHead(204, COMMON_HEADERS);
      res.end();
      return;
    }
    const asset = this.assets.get(path);
    if (asset === undefined) throw new HttpError(404, `no such page: ${path}`);
    allow(req, 'GET');
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': asset.type, 'Content-Length': asset.body.length });
    res.end(asset.body);
  }

  private async api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const [, what, name, action, ...extra] = pathSegments(url.pathname);
    if (what === 'login' && name === undefined) return this.login(req, res);
    const principal = this.guard.principal(req);
    if (what === 'session' && name === undefined) return this.session(req, res, principal);
    if (what === 'events' && name === undefined) return this.events(req, res, url);
    if (what !== 'services' || extra.length > 0) throw new HttpError(404, `no such endpoint: ${url.pathname}`);
    if (name === undefined) return this.list(req, res);
    if (action === undefined) {
      allow(req, 'GET');
      return sendJson(res, 200, this.services.row(this.services.find(name)));
    }
    if (action === 'log') return this.log(req, res, url, name);
    allow(req, 'POST');
    return this.control(req, res, principal, url, name, action);
  }

  private session(req: IncomingMessage, res: ServerResponse, principal: string): void {
    allow(req, 'GET');
    const { readOnly } = this.opts;
    sendJson(res, 200, { csrf: this.guard.csrfFor(principal), readOnly, actions: readOnly ? [] : ACTIONS, logs: true });
  }

  private log(req: IncomingMessage, res: ServerResponse, url: URL, name: string): void {
    allow(req, 'GET');
    const ref = this.services.find(name);
    const lines = parseLines(url.searchParams.get('n'));
    if (url.searchParams.get('follow') !== '1') return sendLog(res, ref, lines);
    this.logStreams.add(followLog(res, ref, lines, (f) => this.logStreams.delete(f)));
  }

  private events(req: IncomingMessage, res: ServerResponse, url: URL): void {
    allow(req, 'GET');
    const only = url.searchParams.get('service');
    if (only !== null) this.services.find(only);
    this.hub.follow(res, only);
  }

  private list(req: IncomingMessage, res: ServerResponse): void {
    allow(req, 'GET');
    const refs = this.services.list();
    this.hub.sync(refs);
    sendJson(res, 200, this.services.rows(refs));
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    allow(req, 'POST');
    const body = await readJsonBody(req);
    const { principal, cookie } = this.guard.login(body.token);
    sendJson(res, 200, { csrf: this.guard.csrfFor(principal), readOnly: this.opts.readOnly }, { 'Set-Cookie': cookie });
  }

  private async control(req: IncomingMessage, res: ServerResponse, principal: string, url: URL, name: string, action: string): Promise<void> {
    if (this.opts.readOnly) throw new HttpError(403, 'read-only: tether web was started with --read-only');
    this.guard.checkCsrf(req, principal);
    const ctl = parseControl(action, url.searchParams, await readJsonBody(req));
    const ref = this.services.find(name);
    const answer = await runControl(ref.dir, ctl);
    sendJson(res, answer.httpStatus, {
      service: name,
      action,
      bytes: ctl.bytes,
      wait: ctl.wait ?? null,
      exitCode: answer.exitCode,
      ...(answer.message === null ? {} : { error: { status: answer.httpStatus, message: answer.message } }),
      warnings: answer.warnings,
      status: this.services.row(ref),
    });
  }

  private beat(): void {
    this.hub.beat();
    for (const f of this.logStreams) f.send(HEARTBEAT);
  }

  close(): void {
    this.hub.close();
    for (const f of this.logStreams) f.res.end();
    this.housekeeping.stop();
    this.http.close();
    this.http.closeAllConnections();
  }
}

/** GET routes never change anything; POST routes answer nothing else. */
function allow(req: IncomingMessage, method: 'GET' | 'POST'): void {
  if (req.method !== method) throw new HttpError(405, `${req.method} is not allowed here; use ${method}`, {}, { Allow: method });
}
