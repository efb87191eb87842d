/**
 * Bearer-token check for internal and admin endpoints (docs/api.md, internal endpoints): required only when
 * `server.token` (or DISTKV_TOKEN) is set; compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import { DistkvError } from '../errors.js';
import type { HttpRequest } from './http1-exchange.js';

/** authError returns UNAUTHORIZED when a token is configured and the request does not carry it. */
export function authError(req: HttpRequest, token: string): DistkvError | undefined {
  if (token === '') return undefined;
  const header = req.getHeader('authorization');
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  if (given.length === expected.length && timingSafeEqual(given, expected)) return undefined;
  return new DistkvError('UNAUTHORIZED', 'this endpoint needs "Authorization: Bearer <server.token>"');
}
