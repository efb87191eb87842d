/**
 * Bearer-token check for internal and admin endpoints (docs/api.md, internal endpoints): required only when
 * `server.token` (or DISTKV_TOKEN) is set; compared in constant time.
 *
 * The scheme name is case-insensitive (RFC 9110 section 11.1: `bearer` is `Bearer`). The token
 * given and the one configured are compared as SHA-256 digests, so the time taken does not
 * depend on where they differ, nor on their lengths (comparing lengths first told a client how
 * long the token is).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { DistkvError } from '../errors.js';
import type { HttpRequest } from './http1-exchange.js';

const BEARER = /^bearer +/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** authError returns UNAUTHORIZED when a token is configured and the request does not carry it. */
export function authError(req: HttpRequest, token: string): DistkvError | undefined {
  if (token === '') return undefined;
  const header = req.getHeader('authorization');
  const scheme = BEARER.exec(header);
  if (scheme !== null && timingSafeEqual(digest(header.slice(scheme[0].length)), digest(token)))
    return undefined;
  return new DistkvError('UNAUTHORIZED', 'this endpoint needs "Authorization: Bearer <server.token>"');
}
