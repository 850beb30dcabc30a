// Small HTTP plumbing shared by the routes: JSON answers, JSON errors with a
// fitting status, bounded request bodies, and the headers every answer carries.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Sent on every answer: no framing, no sniffing, no caching, no referrer. CORS headers never. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** An error answered as `{"error": {"status", "message"}}`; extra fields join the top level. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly extra: Record<string, unknown> = {}, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { error: { status: err.status, message: err.message }, ...err.extra }, err.headers);
}

/** At most this much of a request body is read: the API's bodies are a few fields. */
export const MAX_BODY = 4096;

/**
 * The request's JSON object body, or {} when there is none. Only
 * application/json is accepted, so an HTML form cannot stand in for the page.
 */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'a request body must be application/json');
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** The path's segments, each percent-decoded (a service named `web/log` travels as `web%2Flog`). */
export function pathSegments(pathname: string): string[] {
  const raw = pathname.split('/').filter((s) => s !== '');
  return raw.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new HttpError(400, 'malformed percent-encoding in the path');
    }
  });
}
