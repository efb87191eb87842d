/**
 * How the client reads the server's answers and writes its conditions: scan pages, error bodies
 * (rebuilt as catalogue errors, PRECONDITION_FAILED with the key's current version), ETags and
 * the If-Match / If-None-Match headers of conditional writes.
 */
import { DistkvError, PreconditionFailedError, codeForStatus, isErrorCode, statusOf } from '../errors.js';
import { formatVersion, parseVersion } from '../routing/version.js';
import type { ScanItem, ScanPage, WriteConditions } from './types.js';

/**
 * answerJson parses a JSON answer (`what` names it); one that is not JSON, or not a JSON object (a
 * node that answers garbage, or something that is not a distkv node), is INTERNAL naming it.
 */
export function answerJson(body: Buffer, what: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    doc = undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new DistkvError(
      'INTERNAL',
      `${what}: the answer is not a JSON object (${JSON.stringify(body.subarray(0, 60).toString('utf8'))}${body.length > 60 ? '...' : ''})`,
    );
  return doc;
}

/** ScanPageSource says where a scan page came from, for its checks and errors. */
export interface ScanPageSource {
  /** node is the node asked ("host:port"), named in errors. */
  node: string;
  /** after is the cursor the page was asked after: the page's own cursor must be past it. */
  after?: string | Uint8Array;
}

/**
 * decodeScanPage parses a `/kv?encoding=base64` page (values as `value_base64`, or `value` from
 * nodes that send UTF-8; keys that are not UTF-8 also as `key_base64`, the cursor as `next_base64`).
 * With `shardOfKey`, the items a replica served carry its lag (the page's `replica_lag`, by shard).
 *
 * A page that is not one (an item that is not an object with a string `key`, a field of the wrong
 * type, a `next` neither a string nor null) is INTERNAL naming the field, and, with `from`, so is
 * a cursor that is not past the one the page was asked after: a broken or hostile node that left
 * `next` out, or sent the same cursor again, held `scan()` in an endless loop over one page (a
 * missing `next` restarted it from the first), and a wrong type threw a bare TypeError.
 */
export function decodeScanPage(
  body: Buffer,
  shardOfKey?: (item: ScanItem) => number,
  from?: ScanPageSource,
): ScanPage {
  const page = scanPageOf(body, from === undefined ? 'scan page' : `scan page from ${from.node}`);
  if (from?.after !== undefined && page.next !== null) {
    const cursor = page.nextBytes ?? Buffer.from(page.next, 'utf8');
    const after = typeof from.after === 'string' ? Buffer.from(from.after, 'utf8') : from.after;
    if (Buffer.compare(cursor, after) <= 0)
      throw new DistkvError(
        'INTERNAL',
        `scan page from ${from.node}: its next cursor ${JSON.stringify(page.next)} is not past the cursor it was asked after (${JSON.stringify(Buffer.from(after).toString('utf8'))}): the scan would not end`,
      );
  }
  const lags = page.replicaLag;
  if (lags !== undefined && shardOfKey !== undefined)
    for (const item of page.items) {
      const lag = lags[shardOfKey(item)];
      if (lag !== undefined) item.replicaLag = lag;
    }
  return page;
}

/** WireItem is a scan page's item as it should come; scanPageOf checks each field. */
type WireItem = { key: string; key_base64?: string; value?: string; value_base64?: string; version?: string };

function scanPageOf(body: Buffer, what: string): ScanPage {
  const doc = answerJson(body, what) as {
    items: unknown;
    next: unknown;
    next_base64?: unknown;
    replica_lag?: unknown;
  };
  if (!Array.isArray(doc.items)) throw new DistkvError('INTERNAL', `${what}: the answer has no "items" list`);
  const wrong = (field: string, v: unknown, want: string): DistkvError =>
    new DistkvError(
      'INTERNAL',
      `${what}: ${field} is ${v === undefined ? 'missing' : JSON.stringify(v).slice(0, 60)}, not ${want}`,
    );
  const optional = (field: string, v: unknown): void => {
    if (v !== undefined && typeof v !== 'string') throw wrong(field, v, 'a string');
  };
  const items = (doc.items as unknown[]).map((raw, n): WireItem => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw wrong(`items[${n}]`, raw, 'an object');
    const i = raw as Record<string, unknown>;
    if (typeof i.key !== 'string') throw wrong(`items[${n}].key`, i.key, 'a string');
    for (const f of ['key_base64', 'value', 'value_base64', 'version']) optional(`items[${n}].${f}`, i[f]);
    return i as WireItem;
  });
  if (doc.next !== null && typeof doc.next !== 'string') throw wrong('"next"', doc.next, 'a string or null');
  optional('"next_base64"', doc.next_base64);
  const lags = doc.replica_lag;
  if (lags !== undefined && (typeof lags !== 'object' || lags === null || Array.isArray(lags)))
    throw wrong('"replica_lag"', lags, 'an object');
  return {
    items: items.map((i) => ({
      key: i.key,
      ...(i.key_base64 === undefined ? {} : { keyBytes: Buffer.from(i.key_base64, 'base64') }),
      value:
        i.value_base64 !== undefined
          ? Buffer.from(i.value_base64, 'base64')
          : Buffer.from(i.value ?? '', 'utf8'),
      ...(i.version === undefined ? {} : { version: i.version }),
    })),
    next: doc.next,
    ...(typeof doc.next_base64 === 'string' ? { nextBytes: Buffer.from(doc.next_base64, 'base64') } : {}),
    ...(lags === undefined ? {} : { replicaLag: lags as Record<number, string> }),
  };
}

/**
 * clusterRefusal is what a failed `GET /cluster` at `node` means. A distkv node answers it 200
 * with its view whatever its state, so a 4xx, or a 200 that is not a view (HTML, another
 * service's JSON), comes from a server that is not a distkv node, or not its HTTP port: said so,
 * with what it answered (the user read "NOT_FOUND: Not Found" or "INTERNAL: the answer is not a
 * JSON object" before, for a --url that named another service). Other errors are returned as
 * they are.
 */
export function clusterRefusal(node: string, err: unknown): unknown {
  // The client's own refusal after close() (node-pools.ts) says nothing about the node.
  if (!(err instanceof DistkvError) || err.code === 'CLIENT_CLOSED') return err;
  const status = statusOf(err.code);
  const notView = err.code === 'INTERNAL' && err.message.startsWith('/cluster of ');
  if (!notView && (status < 400 || status >= 500)) return err;
  const answered = notView ? err.message.slice(err.message.indexOf(': ') + 2) : `${status} ${err.message}`;
  return new DistkvError(
    'SHARD_UNREACHABLE',
    `${node} does not answer as a distkv node (GET /cluster: ${answered}): is it the HTTP address of a node of the cluster?`,
    { cause: err },
  );
}

/** errorOf rebuilds a DistkvError from an error response (JSON catalogue body, or the seed's text). */
export function errorOf(status: number, body: Buffer): DistkvError {
  try {
    const e = (
      JSON.parse(body.toString('utf8')) as {
        error?: { code?: unknown; message?: unknown; version?: unknown };
      }
    ).error;
    const err = e === undefined ? undefined : wireError(e, e.version);
    if (err !== undefined) return err;
  } catch {
    // not JSON
  }
  return new DistkvError(codeForStatus(status), body.toString('utf8').trim() || `HTTP ${status}`);
}

/**
 * wireError rebuilds a catalogue error sent as `{code, message}`, or returns undefined when it is
 * not one (an unknown code, no message). PRECONDITION_FAILED is a PreconditionFailedError with
 * `version`, the key's current version as the node sent it (null when the key does not exist):
 * a put's 412 carries it in its error, a batch operation's result beside it (batch-wire.ts).
 */
export function wireError(
  e: { code?: unknown; message?: unknown },
  version: unknown,
): DistkvError | undefined {
  if (typeof e.message !== 'string' || !isErrorCode(e.code)) return undefined;
  if (e.code === 'PRECONDITION_FAILED')
    return new PreconditionFailedError(e.message, typeof version === 'string' ? version : null);
  return new DistkvError(e.code, e.message);
}

/**
 * conditionsOf renders write conditions as request headers. An `ifMatch` that is neither "*" nor a
 * version E.S (quoted or not) is refused here, nothing sent: as a header, one with a CR or LF (a
 * version read from a file with CRLF line ends) failed in the HTTP layer after the request was
 * counted as sent, and was reported as a write that may have been applied.
 */
export function conditionsOf(o: WriteConditions): Record<string, string> {
  checkConditionTypes(o, '');
  const h: Record<string, string> = {};
  if (o.ifMatch !== undefined) {
    const v = ifMatchValue(o.ifMatch);
    h['if-match'] = v === '*' ? '*' : `"${v}"`;
  }
  if (o.ifNoneMatch === true) h['if-none-match'] = '*';
  return h;
}

/**
 * checkConditionTypes refuses (INVALID_ARGUMENT, naming the option after `where`) conditions of a
 * type the types allow no other way, from JavaScript: an `ifNoneMatch` that is not a boolean ("yes",
 * 1) was dropped by a put, which then overwrote the key it was meant not to (and a batch took any
 * truthy one, "false" too, as true); an `ifMatch` that is not a string threw a bare TypeError.
 */
export function checkConditionTypes(o: WriteConditions, where: string): void {
  const ifMatch: unknown = o.ifMatch;
  if (ifMatch !== undefined && typeof ifMatch !== 'string')
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${where}ifMatch must be a version E.S as a string (as an ETag or getVersioned gives it) or "*", got ${describe(ifMatch)}`,
    );
  const ifNoneMatch: unknown = o.ifNoneMatch;
  if (ifNoneMatch !== undefined && typeof ifNoneMatch !== 'boolean')
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${where}ifNoneMatch must be true (write only if the key does not exist) or false, got ${describe(ifNoneMatch)}`,
    );
}

/** describe shows a value of the wrong type in an error: a string quoted, else its text and type. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return `${String(value)} (a ${typeof value})`;
  return `a ${typeof value}`;
}

/**
 * ifMatchValue reads an `ifMatch` as put() and batch() both send it: "*", or the version E.S it
 * names, in double quotes or not, white space around it dropped (the CR of a version read from a
 * file with CRLF line ends: docs/api.md, "Versions"); anything else (a lone quote, `"0.5`) throws
 * INVALID_ARGUMENT naming the option after `where`. One parser for both: a batch stripped quotes
 * with a regular expression, so it sent `"0.5` as 0.5 and had its whole batch refused for `"0.5"\r`.
 */
export function ifMatchValue(ifMatch: string, where = ''): string {
  if (ifMatch === '*') return '*';
  const v = parseVersion(ifMatch);
  if (v === undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${where}ifMatch must be a version E.S (as an ETag or getVersioned gives it) or "*", got ${JSON.stringify(ifMatch)}`,
    );
  return formatVersion(v);
}

/** unquote strips the double quotes of an ETag (a missing one gives ""). */
export function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}
