/**
 * Writing responses: status lines, JSON errors of the catalogue, and the seed's plain-text replies
 * (Go's http.Error: text + "\n", text/plain, nosniff). A 500 keeps its error on the response
 * (`res.error`), so the front door logs it with its cause (front-door.ts).
 */
import { DistkvError, statusOf, toDistkvError } from '../errors.js';
import { errorCodeOf } from './http-metrics.js';
import type { HttpResponse } from './http1-exchange.js';

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  507: 'Insufficient Storage',
};

/** statusLine returns "<code> <reason>" as writeStatus wants it. */
export function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? 'Unknown'}`;
}

/** errorBody returns the JSON body of an error (newline-terminated, like every JSON body: a terminal shows the prompt on its own line). */
export function errorBody(err: DistkvError): string {
  return `${JSON.stringify({ error: { code: err.code, message: err.message } })}\n`;
}

/** ErrorOptions: `close` closes the connection after the response; `headers` are added to it. */
export interface SendErrorOptions {
  close?: boolean;
  headers?: Record<string, string>;
}

/** noteServerError keeps a 5xx's cause on the response for the front door's log line. */
export function noteServerError(res: HttpResponse, err: unknown, status: number): void {
  if (status >= 500) res.error = err;
}

/** sendError writes a catalogue error as JSON with its status. */
export function sendError(res: HttpResponse, err: unknown, options: SendErrorOptions = {}): void {
  const e = err instanceof DistkvError ? err : toDistkvError(err);
  const status = statusOf(e.code);
  noteServerError(res, err, status);
  res.code = e.code;
  res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'application/json');
  for (const [name, value] of Object.entries(options.headers ?? {})) res.writeHeader(name, value);
  res.end(errorBody(e), options.close === true);
}

/**
 * sendJson writes a JSON body with status 200 (or the one given); `pretty` indents it for people.
 * An error status is counted under the body's error code.
 */
export function sendJson(res: HttpResponse, body: unknown, status = 200, pretty = false): void {
  if (status >= 400) res.code = errorCodeOf(body);
  res
    .writeStatus(statusLine(status))
    .writeHeader('Content-Type', 'application/json')
    .end(pretty ? `${JSON.stringify(body, null, 2)}\n` : `${JSON.stringify(body)}\n`);
}

/**
 * sendSeedText writes a seed-style text reply: a 200 body, or for errors Go's http.Error format;
 * `code` is the catalogue code an error is counted under in the metrics.
 */
export function sendSeedText(
  res: HttpResponse,
  status: number,
  text: string,
  code = '',
  headers: Readonly<Record<string, string>> = {},
): void {
  if (status === 200) {
    res.writeHeader('Content-Type', 'text/plain; charset=utf-8').end(text);
    return;
  }
  res.code = code;
  res
    .writeStatus(statusLine(status))
    .writeHeader('Content-Type', 'text/plain; charset=utf-8')
    .writeHeader('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
  res.end(`${text}\n`);
}

/**
 * sendSeedError answers an error on the seed's `/get` or `/set` in Go's http.Error format, with the
 * texts of their other errors (`Error: ...`, `Failed to set key: ...`) and the headers given.
 */
export function sendSeedError(
  res: HttpResponse,
  e: DistkvError,
  path: '/get' | '/set',
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = `${path === '/set' ? 'Failed to set key' : 'Error'}: ${e.message}`;
  sendSeedText(res, statusOf(e.code), text, e.code, headers);
}
