// Who may talk to `tether web`, checked before any route runs:
// - the Host header must name this listener (a DNS-rebound name never does);
// - a browser request from another origin, or another site, is refused, and
//   no CORS header is ever sent, so other pages cannot read answers either;
// - over TCP, the caller must hold the token (as a bearer header, or as the
//   HttpOnly SameSite=Strict cookie it was exchanged for); over a unix
//   socket the socket file's mode is the authentication;
// - every POST carries a CSRF token derived from the caller's credential.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http';

export type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: '127.0.0.1' | '::1'; port: number };

/** The names a loopback listener answers to; anything else is a rebound DNS name. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
/** Sessions kept at once; the oldest goes first. */
const MAX_SESSIONS = 256;
export const CSRF_HEADER = 'x-tether-csrf';

/** A random secret of `bytes` bytes as base64url (32 bytes: 256 bits). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Guard {
  private readonly key = randomBytes(32);
  private readonly sessions = new Set<string>();
  private hosts = new Set<string>();
  private cookieName = 'tether_session';

  /** `token` is required over TCP and absent on a unix socket. */
  constructor(private readonly listen: Listen, private readonly token: string | null) {
    if (listen.kind === 'tcp') this.setPort(listen.port);
  }

  /** Over TCP the allowlist and the cookie name carry the bound port (cookies ignore ports). */
  setPort(port: number): void {
    this.hosts = new Set(LOOPBACK_NAMES.flatMap((n) => (port === 80 ? [n, `${n}:80`] : [`${n}:${port}`])));
    this.cookieName = `tether_session_${port}`;
  }

  get requiresToken(): boolean {
    return this.token !== null;
  }

  /** Host allowlist, then the browser's own word on where the request comes from. */
  checkOrigin(req: IncomingMessage): void {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.hostAllowed(host)) throw new HttpError(421, 'unexpected Host header: tether web answers only to localhost, 127.0.0.1 and [::1]');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) throw new HttpError(403, 'cross-origin request refused');
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'cross-site request refused');
  }

  private hostAllowed(host: string): boolean {
    if (this.listen.kind === 'tcp') return this.hosts.has(host);
    // A browser cannot reach a unix socket; curl may name any port.
    return LOOPBACK_NAMES.some((n) => host === n || new RegExp(`^${n.replace(/[[\].]/g, '\\$&')}:[0-9]+$`).test(host));
  }

  /** The caller's identity for CSRF purposes; throws 401 when a token is needed and missing. */
  principal(req: IncomingMessage): string {
    if (this.token === null) return 'socket';
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer (\S+)$/.exec(auth);
      if (m && sameSecret(m[1], this.token)) return 'bearer';
      throw new HttpError(401, 'wrong token');
    }
    const session = this.sessionOf(req);
    if (session !== null) return `session:${session}`;
    throw new HttpError(401, 'not logged in: give the token (see the token file named on stderr at start)');
  }

  private sessionOf(req: IncomingMessage): string | null {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== this.cookieName) continue;
      const id = part.slice(eq + 1).trim();
      if (this.sessions.has(id)) return id;
    }
    return null;
  }

  /** Exchanges the token for a session; returns its principal and the Set-Cookie value. */
  login(token: unknown): { principal: string; cookie: string } {
    if (this.token === null) throw new HttpError(400, 'this listener needs no login');
    if (typeof token !== 'string' || !sameSecret(token, this.token)) throw new HttpError(401, 'wrong token');
    const id = randomToken();
    this.sessions.add(id);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.values().next().value as string);
    return { principal: `session:${id}`, cookie: `${this.cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/` };
  }

  csrfFor(principal: string): string {
    return createHmac('sha256', this.key).update(principal).digest('base64url');
  }

  checkCsrf(req: IncomingMessage, principal: string): void {
    const given = req.headers[CSRF_HEADER];
    if (typeof given !== 'string' || !sameSecret(given, this.csrfFor(principal))) {
      throw new HttpError(403, `missing or wrong CSRF token: send the X-Tether-CSRF header from GET /v1/session`);
    }
  }
}
