/**
 * Conditions of a single-key read: `If-Match` and `If-None-Match` on `GET` (and `HEAD`) of
 * `/kv/{key}`, evaluated as RFC 9110 section 13.2.2 orders them, against the version the read saw
 * (docs/api.md, "Versions").
 *
 * They were ignored: `GET` with `If-Match: "0.5"` answered 200 with whatever the key held (a
 * client checking "is it still the version I hold" read a changed value as if it were), and
 * `If-None-Match` never gave a 304. Now:
 *  - `If-Match` (one version `E.S`, quotes optional, or `*`, as on a write; anything else is a 400):
 *    false when the key is missing or has another version, and then the answer is 412
 *    PRECONDITION_FAILED with the current version, as for a write.
 *  - `If-None-Match` (`*` alone, or a comma-separated list of versions as entity tags, weak
 *    `W/"E.S"` or strong, as caches send them; weak comparison; anything else is a 400): when it
 *    matches the key's version (`*`: the key exists), the answer is 304 Not Modified with the ETag and no body. A missing key matches nothing, so
 *    it is the 404 as before.
 * If-Match is evaluated first; both may be sent. A header sent twice is a 400, as on a write.
 */
import { DistkvError } from '../errors.js';
import { parseVersion } from '../routing/version.js';
import type { HttpRequest } from './http1-exchange.js';

/** ReadConditions are a read's parsed conditions; each tag is an unquoted `E.S`. */
export interface ReadConditions {
  /** ifMatch: `*`, or the version `E.S` the key must have; undefined when not sent. */
  ifMatch: string | undefined;
  /** ifNoneMatch: `*`, or the versions that make the answer a 304; undefined when not sent. */
  ifNoneMatch: '*' | readonly string[] | undefined;
}

/** READ_OK, READ_NOT_MODIFIED and READ_FAILED are what evaluateRead decides. */
export const READ_OK = 0;
export const READ_NOT_MODIFIED = 304;
export const READ_FAILED = 412;
/** ReadOutcome is one of the READ_ constants. */
export type ReadOutcome = typeof READ_OK | typeof READ_NOT_MODIFIED | typeof READ_FAILED;

/** versionTagOf reads one element of an If-None-Match list: a version, strong or weak (`W/`), quoted or (leniently) bare; unquoted `E.S`, or undefined. */
function versionTagOf(part: string): string | undefined {
  const v = parseVersion(part.startsWith('W/') ? part.slice(2) : part);
  return v === undefined ? undefined : `${v.epoch}.${v.seq}`;
}

/** readConditionsOf reads a GET's conditions; undefined when it has none, INVALID_ARGUMENT for bad ones. */
export function readConditionsOf(req: HttpRequest): ReadConditions | undefined {
  const ifMatch = oneHeader(req, 'if-match', 'If-Match');
  const ifNoneMatch = oneHeader(req, 'if-none-match', 'If-None-Match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  return { ifMatch: ifMatchOf(ifMatch), ifNoneMatch: ifNoneMatchOf(ifNoneMatch) };
}

function oneHeader(req: HttpRequest, lowerName: string, name: string): string | undefined {
  const values = req.getHeaders(lowerName);
  if (values.length > 1)
    throw new DistkvError('INVALID_ARGUMENT', `send one ${name} header, got ${values.length}`);
  return values[0];
}

function ifMatchOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === '*') return '*';
  const v = parseVersion(text);
  if (v === undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `If-Match must be a version "E.S" (as an ETag gives it) or *, got ${JSON.stringify(text)}`,
    );
  return `${v.epoch}.${v.seq}`;
}

function ifNoneMatchOf(text: string | undefined): '*' | readonly string[] | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === '*') return '*';
  // A list may hold empty elements (RFC 9110 section 5.6.1: `"0.5", , "0.6"`); they are skipped.
  // Each element is a version as this store gives it (its ETag): `garbage`, or a `*` inside a list,
  // was taken as a tag that matched nothing (a 200, where docs/api.md promises a 400).
  const parts = text.split(',').map((part) => part.trim());
  const tags = parts.filter((part) => part !== '').map(versionTagOf);
  if (tags.length === 0 || tags.some((t) => t === undefined))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `If-None-Match on a read must be * or a list of ETags ("E.S" or W/"E.S"), got ${JSON.stringify(text)}`,
    );
  return tags as string[];
}

/**
 * evaluateRead decides a read's answer from its conditions and the version it saw (unquoted
 * `E.S`, undefined when the key is missing).
 */
export function evaluateRead(c: ReadConditions, version: string | undefined): ReadOutcome {
  if (c.ifMatch !== undefined && (version === undefined || (c.ifMatch !== '*' && c.ifMatch !== version)))
    return READ_FAILED;
  if (c.ifNoneMatch === undefined || version === undefined) return READ_OK;
  return c.ifNoneMatch === '*' || c.ifNoneMatch.includes(version) ? READ_NOT_MODIFIED : READ_OK;
}
