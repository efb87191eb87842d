/**
 * KeyRequest: one in-flight single-key request (REST /kv/{key} or seed /get, /set), waiting for its
 * worker's reply. It formats the reply for its kind and records the request's metrics.
 *
 * Lifetime: created in the uWS handler, which registers `res.onAborted` (setting `aborted`) before
 * returning; `onReply` runs later from the worker pool, so it writes inside `res.cork` and writes
 * nothing once the client is gone.
 */
import { DistkvError, isErrorCode, statusOf, type WireError } from '../errors.js';
import type { OpHandler } from '../server/worker-pool.js';
import { ST_DONE, ST_ERROR, ST_MISSING } from '../worker/op-format.js';
import { type Route, secondsSince } from './http-metrics.js';
import { errorBody, sendSeedText, STATUS_204, statusLine } from './respond.js';
import type { HttpContext } from './context.js';
import type { HttpResponse } from './uws.js';

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

const ROUTE_OF: readonly Route[] = ['kv_get', 'kv_put', 'kv_delete', 'seed_get', 'seed_set'];
/** METHOD_OF is each kind's method label (the seed's routes are counted as the GET they are sent as). */
const METHOD_OF: readonly string[] = ['GET', 'PUT', 'DELETE', 'GET', 'GET'];
const VALUE_PREFIX = Buffer.from('Value: ');
const MISSING_BODY = errorBody(new DistkvError('NOT_FOUND', 'key not found'));
/** The usual answers, as the status and error code (label) a request is counted under. */
const ANSWER_200 = { status: 200, code: '' } as const;
const ANSWER_204 = { status: 204, code: '' } as const;
const ANSWER_404 = { status: 404, code: 'NOT_FOUND' } as const;
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
  aborted = false;
  private readonly res: HttpResponse;
  private readonly ctx: HttpContext;
  private readonly kind: KeyKind;
  private readonly start: number;
  private readonly shard: number;
  /** lag is the X-Distkv-Lag header value for reads served by a replica, else undefined. */
  lag: string | undefined;

  constructor(res: HttpResponse, ctx: HttpContext, kind: KeyKind, shard: number, start: number) {
    this.res = res;
    this.ctx = ctx;
    this.kind = kind;
    this.shard = shard;
    this.start = start;
    ctx.state.inFlight++;
  }

  /** abort marks the client gone (res.onAborted) and releases the request's in-flight slot. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.ctx.state.inFlight--;
  }

  onReply(status: number, seq: number, value: Buffer): void {
    if (this.aborted) return;
    this.ctx.state.inFlight--;
    this.aborted = true; // the response is written now; a late onAborted must not decrement again
    let answer: { readonly status: number; readonly code: string } = ANSWER_200;
    this.res.cork(() => {
      answer = this.write(status, seq, value);
    });
    this.ctx.metrics.observeRequest(
      ROUTE_OF[this.kind]!,
      METHOD_OF[this.kind]!,
      answer.status,
      this.ctx.listener.address,
      answer.code,
      secondsSince(this.start),
    );
  }

  /** write sends the response for a worker reply and returns its HTTP status and error code ('' for none). */
  private write(
    status: number,
    seq: number,
    value: Buffer,
  ): { readonly status: number; readonly code: string } {
    const res = this.res;
    const seed = this.kind === KIND_SEED_GET || this.kind === KIND_SEED_SET;
    if (status === ST_ERROR) {
      const err = parseWireError(value);
      const code = statusOf(err.code);
      if (seed)
        sendSeedText(
          res,
          code,
          this.kind === KIND_SEED_SET ? `Failed to set key: ${err.message}` : `Error: ${err.message}`,
        );
      else
        res.writeStatus(statusLine(code)).writeHeader('Content-Type', 'application/json').end(errorBody(err));
      return { status: code, code: err.code };
    }
    switch (this.kind) {
      case KIND_KV_GET:
        if (status === ST_MISSING) {
          res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json');
          if (this.lag !== undefined) res.writeHeader('X-Distkv-Lag', this.lag);
          res.end(MISSING_BODY);
          return ANSWER_404;
        }
        if (this.lag !== undefined) res.writeHeader('X-Distkv-Lag', this.lag);
        res.writeHeader('Content-Type', 'application/octet-stream').end(value);
        return ANSWER_200;
      case KIND_SEED_GET:
        if (status === ST_MISSING) {
          sendSeedText(res, 404, SEED_MISSING_TEXT);
          return ANSWER_404;
        }
        if (this.lag !== undefined) res.writeHeader('X-Distkv-Lag', this.lag);
        res
          .writeHeader('Content-Type', 'text/plain; charset=utf-8')
          .end(Buffer.concat([VALUE_PREFIX, value]));
        return ANSWER_200;
      case KIND_SEED_SET:
        sendSeedText(res, 200, `Key set successfully on shard ${this.shard}`);
        return ANSWER_200;
      default:
        if (status !== ST_DONE && !(status === ST_MISSING && this.kind === KIND_KV_DELETE))
          throw new Error(`unexpected reply status ${status} for a write`);
        // X-Distkv-Seq lets a client wait for a replica to reach its write (read-your-writes).
        res.writeStatus(STATUS_204).writeHeader('X-Distkv-Seq', String(seq));
        // X-Distkv-Existed says whether a deleted key existed (docs/api.md).
        if (this.kind === KIND_KV_DELETE) res.writeHeader('X-Distkv-Existed', status === ST_DONE ? '1' : '0');
        res.endWithoutBody();
        return ANSWER_204;
    }
  }
}
