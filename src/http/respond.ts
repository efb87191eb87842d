/**
 * Writing responses with uWebSockets.js: status lines, JSON errors of the catalogue, and the seed's
 * plain-text replies (Go's http.Error: text + "\n", text/plain, nosniff).
 *
 * Callers outside a uWS handler's synchronous part must wrap these in `res.cork()`.
 */
import { DistkvError, statusOf, toDistkvError } from '../errors.js';
import type { HttpRequest, HttpResponse } from './uws.js';

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  421: 'Misdirected Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  507: 'Insufficient Storage',
};

/** statusLine returns "<code> <reason>" as uWS's writeStatus wants it. */
export function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? 'Unknown'}`;
}

/** queryOf returns the raw query string ("" when there is none: uWS then returns undefined, unlike its typings say). */
export function queryOf(req: HttpRequest): string {
  const q: unknown = req.getQuery();
  return typeof q === 'string' ? q : '';
}

/** STATUS_200 etc. are preformatted status lines for the hot paths. */
export const STATUS_200 = '200 OK';
export const STATUS_204 = '204 No Content';

/** errorBody returns the JSON body of an error. */
export function errorBody(err: DistkvError): string {
  return JSON.stringify({ error: { code: err.code, message: err.message } });
}

/** ErrorOptions: `close` closes the connection after the response; `headers` are added to it. */
export interface SendErrorOptions {
  close?: boolean;
  headers?: Record<string, string>;
}

/** sendError writes a catalogue error as JSON with its status. */
export function sendError(res: HttpResponse, err: unknown, options: SendErrorOptions = {}): void {
  const e = err instanceof DistkvError ? err : toDistkvError(err);
  res.writeStatus(statusLine(statusOf(e.code))).writeHeader('Content-Type', 'application/json');
  for (const [name, value] of Object.entries(options.headers ?? {})) res.writeHeader(name, value);
  res.end(errorBody(e), options.close === true);
}

/** sendJson writes a JSON body with status 200 (or the one given). */
export function sendJson(res: HttpResponse, body: unknown, status = 200): void {
  res
    .writeStatus(statusLine(status))
    .writeHeader('Content-Type', 'application/json')
    .end(JSON.stringify(body));
}

/** sendSeedText writes a seed-style text reply: a 200 body, or for errors Go's http.Error format. */
export function sendSeedText(res: HttpResponse, status: number, text: string): void {
  if (status === 200) {
    res.writeHeader('Content-Type', 'text/plain; charset=utf-8').end(text);
    return;
  }
  res
    .writeStatus(statusLine(status))
    .writeHeader('Content-Type', 'text/plain; charset=utf-8')
    .writeHeader('X-Content-Type-Options', 'nosniff')
    .end(`${text}\n`);
}
