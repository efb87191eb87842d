/**
 * KeyRequest: one in-flight single-key request (REST /kv/{key} or seed /get, /set), waiting for its
 * worker's reply. It formats the reply for its kind.
 *
 * Lifetime: created by the route after the request was read; `onReply` runs later from the worker
 * pool and writes nothing once the client is gone (`res.aborted`). The route wrapper and the front
 * door account for the request (route.ts, front-door.ts).
 */
import { DistkvError, isErrorCode, statusOf, type WireError } from '../errors.js';
import type { OpHandler } from '../server/worker-pool.js';
import { ST_CONFLICT, ST_DONE, ST_ERROR, ST_MISSING } from '../worker/op-format.js';
import type { HttpContext } from './context.js';
import type { HttpResponse } from './http1-exchange.js';
import { errorBody, noteServerError, sendError, sendSeedError, sendSeedText, statusLine } from './respond.js';
import { READ_FAILED, READ_NOT_MODIFIED, evaluateRead, type ReadConditions } from './read-conditions.js';
import { versionOf } from './write-conditions.js';

/** KIND_ values say how a KeyRequest formats its reply. */
export const KIND_KV_GET = 0;
export const KIND_KV_PUT = 1;
export const KIND_KV_DELETE = 2;
export const KIND_SEED_GET = 3;
export const KIND_SEED_SET = 4;
/** KeyKind is one of the KIND_ constants. */
export type KeyKind =
  | typeof KIND_KV_GET
  | typeof KIND_KV_PUT
  | typeof KIND_KV_DELETE
  | typeof KIND_SEED_GET
  | typeof KIND_SEED_SET;

const VALUE_PREFIX = Buffer.from('Value: ');
const OCTET_STREAM_LINE = 'Content-Type: application/octet-stream\r\n';
const MISSING_BODY = errorBody(new DistkvError('NOT_FOUND', 'key not found'));
/** The seed answers a missing key with BadgerDB's error text. */
const SEED_MISSING_TEXT = 'Error: Key not found';

/** parseWireError decodes an ST_ERROR reply body. */
export function parseWireError(value: Uint8Array): DistkvError {
  try {
    const w = JSON.parse(Buffer.from(value).toString('utf8')) as Partial<WireError>;
    if (isErrorCode(w.code) && typeof w.message === 'string') return new DistkvError(w.code, w.message);
  } catch {
    // fall through
  }
  return new DistkvError('INTERNAL', 'malformed error reply from a shard worker');
}

/** KeyRequest answers one single-key request when its worker replies. */
export class KeyRequest implements OpHandler {
  private readonly res: HttpResponse;
  private readonly kind: KeyKind;
  private readonly shard: number;
  /** lag is the X-Distkv-Lag header value for reads served by a replica, else undefined. */
  private readonly lag: string | undefined;
  /** versions formats a seq of this shard as an ETag (REST kinds; src/http/write-conditions.ts); undefined for seed kinds. */
  private readonly versions: HttpContext | undefined;
  /**
   * leaseHeld, for a write or a read that waits for replicas (`w` ≥ 1), tells whether this node
   * still leads the shard with its lease when the acks are in; undefined for other requests.
   */
  private readonly leaseHeld: (() => boolean) | undefined;
  /** conds are a REST read's If-Match / If-None-Match (read-conditions.ts); undefined for none. */
  private readonly conds: ReadConditions | undefined;

  constructor(
    res: HttpResponse,
    kind: KeyKind,
    shard: number,
    lag: string | undefined,
    ctx: HttpContext,
    leaseHeld?: () => boolean,
    conds?: ReadConditions,
  ) {
    this.res = res;
    this.kind = kind;
    this.shard = shard;
    this.lag = lag;
    this.versions = kind === KIND_SEED_GET || kind === KIND_SEED_SET ? undefined : ctx;
    this.leaseHeld = leaseHeld;
    this.conds = conds;
  }

  /** versionOf is the ETag of `seq` (REST kinds), else undefined. */
  private versionOf(seq: number): string | undefined {
    return this.versions === undefined ? undefined : versionOf(this.versions, this.shard, seq);
  }

  onReply(status: number, seq: number, value: Buffer): void {
    if (!this.res.aborted) this.write(status, seq, value);
  }

  /** write sends the response for a worker reply (res.status and res.code are what metrics count). */
  private write(status: number, seq: number, value: Buffer): void {
    const res = this.res;
    const seed = this.kind === KIND_SEED_GET || this.kind === KIND_SEED_SET;
    if (status === ST_ERROR) {
      const err = parseWireError(value);
      if (!seed) {
        sendError(res, err);
        return;
      }
      noteServerError(res, err, statusOf(err.code));
      sendSeedError(res, err, this.kind === KIND_SEED_SET ? '/set' : '/get');
      return;
    }
    if (status === ST_CONFLICT) {
      this.conflict(seq);
      return;
    }
    const etag = this.versionOf(seq);
    switch (this.kind) {
      case KIND_KV_GET:
        if (this.leaseLost('a new leader may lack what the read saw; read again')) return;
        if (this.conds !== undefined && this.unmet(status === ST_MISSING ? 0 : seq)) return;
        if (status === ST_MISSING) {
          res.code = 'NOT_FOUND';
          res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json');
          if (this.lag !== undefined) res.writeHeader('X-Distkv-Lag', this.lag);
          res.end(MISSING_BODY);
          return;
        }
        // The lag (digits, or a state and numbers) and the ETag (a quoted E.S) are ASCII.
        res.endAscii(
          this.lag === undefined
            ? etag === undefined
              ? OCTET_STREAM_LINE
              : `ETag: ${etag}\r\n${OCTET_STREAM_LINE}`
            : `X-Distkv-Lag: ${this.lag}\r\n${etag === undefined ? '' : `ETag: ${etag}\r\n`}${OCTET_STREAM_LINE}`,
          value,
        );
        return;
      case KIND_SEED_GET:
        if (status === ST_MISSING) {
          // A replica's "not found" is marked as its values are: the key may exist at the leader.
          sendSeedText(
            res,
            404,
            SEED_MISSING_TEXT,
            'NOT_FOUND',
            this.lag === undefined ? {} : { 'X-Distkv-Lag': this.lag },
          );
          return;
        }
        if (this.lag !== undefined) res.writeHeader('X-Distkv-Lag', this.lag);
        res
          .writeHeader('Content-Type', 'text/plain; charset=utf-8')
          .end(Buffer.concat([VALUE_PREFIX, value]));
        return;
      case KIND_SEED_SET:
        sendSeedText(res, 200, `Key set successfully on shard ${this.shard}`);
        return;
      default:
        if (status !== ST_DONE && status !== ST_MISSING)
          throw new Error(`unexpected reply status ${status} for a write`);
        if (this.leaseLost('the write is kept on this node, but a new leader may lack it')) return;
        // X-Distkv-Seq lets a client wait for a replica to reach its write (read-your-writes);
        // X-Distkv-Existed says whether a deleted key existed; X-Distkv-Deleted that a put's expiry
        // was past by this node's clock, so it was written as a delete (ST_MISSING; docs/api.md).
        res.endNoContent(
          this.kind === KIND_KV_PUT
            ? `X-Distkv-Seq: ${String(seq)}\r\n${etag === undefined ? '' : `ETag: ${etag}\r\n`}${
                status === ST_MISSING ? 'X-Distkv-Deleted: 1\r\n' : ''
              }`
            : `X-Distkv-Seq: ${String(seq)}\r\nX-Distkv-Existed: ${status === ST_DONE ? '1' : '0'}\r\n`,
        );
    }
  }

  /**
   * leaseLost answers 504 REPLICATION_TIMEOUT (`consequence` ends its message) and returns true
   * when this request waited for replicas and this node no longer holds the shard's lease. Acks
   * that came in after this leader lost its lease may be from replicas that a newer leader's epoch
   * no longer counts (one promoted meanwhile may lack the write, or what a read saw): not
   * confirmed, as when the acks come too late (docs/failover.md).
   */
  private leaseLost(consequence: string): boolean {
    if (this.leaseHeld === undefined || this.leaseHeld()) return false;
    sendError(
      this.res,
      new DistkvError(
        'REPLICATION_TIMEOUT',
        `this node lost shard ${this.shard}'s lease before its replicas' acks were confirmed: ${consequence}`,
      ),
    );
    return true;
  }

  /**
   * unmet answers a read whose conditions say it must not be answered with the key: 412 when
   * If-Match does not hold, 304 (ETag, no body) when If-None-Match matches; it returns true then.
   */
  private unmet(seq: number): boolean {
    const etag = this.versionOf(seq);
    const outcome = evaluateRead(this.conds!, etag?.slice(1, -1));
    if (outcome === READ_FAILED) {
      this.conflict(seq);
      return true;
    }
    if (outcome !== READ_NOT_MODIFIED || etag === undefined) return false;
    const res = this.res;
    res.writeStatus(statusLine(304)).writeHeader('ETag', etag);
    if (this.lag !== undefined) res.writeHeader('X-Distkv-Lag', this.lag);
    res.endWithoutBody();
    return true;
  }

  /** conflict answers 412 PRECONDITION_FAILED with the key's current version (ETag and `version`; null when missing). */
  private conflict(seq: number): void {
    const res = this.res;
    const version = this.versionOf(seq);
    const message =
      version === undefined
        ? 'the condition does not hold: the key does not exist'
        : `the condition does not hold: the key's version is ${version}`;
    res.code = 'PRECONDITION_FAILED';
    res.writeStatus(statusLine(412)).writeHeader('Content-Type', 'application/json');
    if (version !== undefined) res.writeHeader('ETag', version);
    const body = {
      error: { code: 'PRECONDITION_FAILED', message, version: version?.slice(1, -1) ?? null },
    };
    res.end(`${JSON.stringify(body)}\n`);
  }
}
