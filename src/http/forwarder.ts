/**
 * Forwarder: the node-to-node HTTP client of the front door. A node that receives a scan or a
 * batch touching shards led by other nodes forwards those parts to their owners (with `local=1`,
 * so an owner never forwards again; scatter-merge.ts plans and merges them), and with `--proxy` it
 * relays single-key requests (proxy.ts). An owner that goes silent is reported by name (shard and
 * address) and the bound it missed, instead of the request hanging. A fixed 2 s failed healthy
 * owners: three 10000-operation batches at once, each 1.7 s alone, had two parts "not answered".
 *
 * The bound is on the owner's silence, not on the exchange's length (forward-silence.ts): each
 * owner gets `server.forward_timeout_ms` (a relay at least RELAY_TIMEOUT_MS, plus a `w` write's
 * wait) until its answer's head, the same bound between two chunks of the answer's body, and
 * FORWARD_CEILING_MS for the whole. A bound on the whole exchange failed a healthy owner's scan
 * part holding a 64 MiB value (~89 MB of base64 JSON, 17-20 s under load) every time.
 * The answer's bytes are bounded too, by what it can hold (forward-caps.ts): an endless body is
 * cut there, naming its owner and the cap.
 *
 * Writes pipelined on one client connection are applied in the order they came (RFC 9112 section
 * 9.3.2 lets a server run only safe requests in parallel). Local ones are, since they reach their
 * worker in order; forwarded ones went out at once on separate connections to the owner, which
 * could apply them in either order: a PUT of a large value then one of a small value to the same
 * key, both answered 204, left the large one. So the writes one connection forwards to one owner
 * go out one after the other (`inOrder`): each when the owner has answered the one before (or it
 * failed). Writes to different owners are of different keys and go out in parallel, as a
 * connection's local writes to different workers are applied in parallel.
 *
 * When the owner does not answer one of them (a timeout, a refused or broken connection), the
 * writes the connection sends to that owner in the next HOLD_BACK_MS (those queued behind it, and
 * those the client pipelined that were not read yet) fail at once, never sent, as "not applied"
 * (util/never-sent.ts: heldBack). Sending each in turn made N pipelined writes behind a stopped
 * owner wait N bounds (N x 10 s for `--proxy`), and a write sent after a timed-out one could be
 * applied before it once the owner resumed. A write that comes later is sent.
 */
import type { Agent, Dispatcher } from 'undici';
import { undici } from '../util/lazy-undici.js';
import { DEFAULTS } from '../config/schema.js';
import { DistkvError, type WireError, isErrorCode } from '../errors.js';
import { prefixQuery, scanAfterQuery } from '../util/bytes.js';
import { heldBack } from '../util/never-sent.js';
import { DEADLINE_HEADER, deadlineFor } from './forward-deadline.js';
import { batchCap, relayCap, scanCap } from './forward-caps.js';
import { FORWARD_CEILING_MS, type Silence, answered, bytesOf, jsonOf } from './forward-silence.js';
import type { ScanEntry } from '../worker/messages.js';

/** FORWARDED_HEADER marks a request one node forwarded to another (never forwarded again). */
export const FORWARDED_HEADER = 'x-distkv-forwarded';

/**
 * RELAY_TIMEOUT_MS is the least bound of a relayed single-key request (`--proxy`; a larger
 * `server.forward_timeout_ms` raises it), on top of the wait of a `w` write (its `timeout_ms`,
 * during which the owner holds the answer for its replicas' acks).
 */
export const RELAY_TIMEOUT_MS = 10000;

/**
 * HOLD_BACK_MS is how long after its owner did not answer a write a connection's next writes to
 * that owner are held back (not sent, not applied): the writes a client pipelined behind it were
 * sent before it could read that answer, and they are read within a round trip or two of the
 * connection's window (http1-outflow.ts), well within this. A write that comes later is sent.
 */
export const HOLD_BACK_MS = 1000;

/** ForwardBounds are how long a Forwarder waits for an owner (defaults: DEFAULTS.server, RELAY_TIMEOUT_MS, FORWARD_CEILING_MS). */
export interface ForwardBounds {
  /** forwardMs bounds an owner's silence in a scan or batch part (`server.forward_timeout_ms`). */
  forwardMs?: number;
  /** relayMs bounds an owner's silence in a relayed request (before its head, plus the wait it asks for). */
  relayMs?: number;
  /** ceilingMs bounds a forwarded exchange whole (FORWARD_CEILING_MS). */
  ceilingMs?: number;
  /** maxValueBytes is this node's `server.max_value_bytes`: the answers' byte caps allow a value that large (forward-caps.ts). */
  maxValueBytes?: number;
}

/** Forwarder sends parts of multi-key requests to other nodes over keep-alive connections. */
export class Forwarder {
  private agent: Agent | undefined;
  private readonly scheme: string;
  private readonly configHash: string;
  /** ca is the PEM of the CA(s) trusted for https owners (server.tls_ca); undefined = the system's. */
  private readonly ca: Buffer | undefined;
  private readonly forwardMs: number;
  private readonly relayMs: number;
  private readonly ceilingMs: number;
  private readonly maxValueBytes: number;
  /**
   * tails: per client connection (HttpResponse.connection) and owner, the last write forwarded,
   * settled: to the error it got when the owner did not answer it, else to undefined.
   */
  private readonly tails = new WeakMap<object, Map<string, Promise<Unanswered>>>();
  /** wrote: per client connection, the owners it forwarded writes to (`wroteThrough`, own-writes.ts). */
  private readonly wrote = new WeakMap<object, Set<string>>();

  constructor(scheme: 'http' | 'https', configHash: string, ca?: Buffer, bounds: ForwardBounds = {}) {
    this.scheme = scheme;
    this.configHash = configHash;
    this.ca = ca;
    this.forwardMs = bounds.forwardMs ?? DEFAULTS.server.forward_timeout_ms;
    this.relayMs = bounds.relayMs ?? Math.max(RELAY_TIMEOUT_MS, this.forwardMs);
    this.ceilingMs = bounds.ceilingMs ?? FORWARD_CEILING_MS;
    this.maxValueBytes = bounds.maxValueBytes ?? DEFAULTS.server.max_value_bytes;
  }

  /** wroteThrough tells whether `connection` forwarded a write to `owner` (own-writes.ts). */
  wroteThrough(connection: object, owner: string): boolean {
    return this.wrote.get(connection)?.has(owner) === true;
  }

  /**
   * inOrder calls `send` (the forwarding of one write, or of one batch part, to `owner`) once the
   * writes that `connection` forwarded to `owner` before it have been answered (see the design
   * block). If the owner did not answer the one before (it failed with anything but the owner's
   * own DistkvError: a timeout, a refused or broken connection) less than HOLD_BACK_MS ago, `send`
   * is not called: the result fails at once with util/never-sent.ts's `heldBack` (not applied).
   */
  inOrder<T>(connection: object, owner: string, send: () => Promise<T>): Promise<T> {
    let wrote = this.wrote.get(connection);
    if (wrote === undefined) this.wrote.set(connection, (wrote = new Set()));
    wrote.add(owner);
    let owners = this.tails.get(connection);
    if (owners === undefined) this.tails.set(connection, (owners = new Map<string, Promise<Unanswered>>()));
    const before = owners.get(owner);
    let behind: Unanswered;
    const sent =
      before === undefined
        ? send()
        : before.then((b) => {
            if (b === undefined || b.until <= Date.now()) return send();
            behind = b;
            return Promise.reject(heldBack(b.error));
          });
    // A held-back write passes on the failure it was held behind, with its end, so the hold
    // lasts HOLD_BACK_MS from the write the owner did not answer, however many come behind.
    const tail = sent.then(answeredOk, (err: unknown) => behind ?? unansweredBy(err));
    owners.set(owner, tail);
    void tail.then((u) => {
      const drop = (): void => {
        if (owners.get(owner) === tail) owners.delete(owner);
      };
      if (u === undefined) drop();
      else setTimeout(drop, Math.max(0, u.until - Date.now())).unref();
    });
    return sent;
  }

  /**
   * scan asks `owner` for a page of `shards` (binary-safe: values travel base64), of at most
   * `limit` entries and about `maxBytes` of keys and values (`max_bytes`). All of them: an owner
   * that does not host one of them answers with it missing, which is an error here. `more` is the
   * owner's `next`: its page went up to its last key, and more may follow. The part of a scan
   * that reads leaders only (`leaderOnly`, `leader=1`) asks the owner for leaders only too: an
   * owner that took the shard for its leader when the asker did, and since hosts only its replica
   * (a failover the asker has not heard of), reports it missing instead of serving stale data.
   */
  async scan(
    owner: string,
    shards: readonly number[],
    prefix: Buffer,
    after: Buffer | undefined,
    bounds: { limit: number; maxBytes: number; leaderOnly?: boolean },
  ): Promise<{ entries: ScanEntry[]; more: boolean; replicaLag?: Record<string, string> }> {
    // The prefix and the cursor go as their exact bytes: as text, bytes that are not UTF-8 would
    // become U+FFFD and the owner would scan other keys.
    const q = new URLSearchParams({
      ...prefixQuery(prefix),
      limit: String(bounds.limit),
      max_bytes: String(bounds.maxBytes),
      encoding: 'base64',
      local: '1',
      ...(bounds.leaderOnly === true ? { leader: '1' } : {}),
      shards: shards.join(','),
      config: this.configHash,
      ...scanAfterQuery(after),
    });
    const { request, dispatcher } = await this.http();
    const { res, body } = await answered(this.silence(this.forwardMs), async ({ signal, heard }) => {
      const res = await request(`${this.scheme}://${owner}/kv?${q.toString()}`, { dispatcher, signal });
      const cap = scanCap(bounds.limit, bounds.maxBytes, this.maxValueBytes);
      return { res, body: (await jsonOf(res, heard, cap)) as ScanAnswer };
    });
    if (res.statusCode !== 200 || body.items === undefined) throw remoteError(res.statusCode, body.error);
    if (body.missing_shards !== undefined && body.missing_shards.length > 0)
      throw new DistkvError(
        'SHARD_UNREACHABLE',
        bounds.leaderOnly === true
          ? `${owner} does not lead shard ${body.missing_shards.join(', ')} now (a failover may have moved it: retry)`
          : `${owner} does not host shard ${body.missing_shards.join(', ')} (is its data directory complete?)`,
      );
    return {
      entries: body.items.map((i) => ({
        key: i.key_base64 === undefined ? Buffer.from(i.key, 'utf8') : Buffer.from(i.key_base64, 'base64'),
        value: Buffer.from(i.value_base64, 'base64'),
        ...(i.version === undefined ? {} : { version: i.version }),
      })),
      more: body.next !== null && body.next !== undefined,
      ...(body.replica_lag === undefined ? {} : { replicaLag: body.replica_lag }),
    };
  }

  /** batch sends operations to `owner` and returns one result per operation. */
  async batch(owner: string, ops: unknown[]): Promise<({ ok: true } | { ok: false; error: WireError })[]> {
    const { request, dispatcher } = await this.http();
    const url = `${this.scheme}://${owner}/kv/_batch?local=1&config=${this.configHash}`;
    const { res, body } = await answered(this.silence(this.forwardMs), async ({ signal, heard }) => {
      const res = await request(url, {
        method: 'POST',
        body: JSON.stringify(ops),
        headers: { [DEADLINE_HEADER]: deadlineFor(this.forwardMs) },
        dispatcher,
        signal,
      });
      return { res, body: (await jsonOf(res, heard, batchCap(ops.length))) as BatchAnswer };
    });
    if (res.statusCode !== 200 || body.results?.length !== ops.length)
      throw remoteError(res.statusCode, body.error);
    return body.results;
  }

  /**
   * relay sends one single-key request to `owner` (for `--proxy`): `path` (an ASCII target,
   * target-path.ts) exactly as given, with its write `conditions`
   * (each value a field line of its own), and returns what to pass back. `waitMs` is how long the
   * owner may hold the answer by design (a `w` write's timeout_ms): it is waited on top of the
   * relay's own bound, or a write the owner was still confirming would be reported unanswered.
   * A `write` (default: any method but GET; the seed's `GET /set` says so) carries its deadline.
   */
  async relay(
    owner: string,
    method: Dispatcher.HttpMethod,
    path: string,
    body: Uint8Array | undefined,
    conditions: Record<string, string[]> = {},
    waitMs = 0,
    write = method !== 'GET',
  ): Promise<{ status: number; headers: [string, string][]; body: Buffer }> {
    const { dispatcher } = await this.http();
    // The path goes out as given (target-path.ts wrote it): `request(url)` would parse it as a
    // URL, turning `\` into `/` and dropping dot segments, so the owner would get another key.
    const bound = `server.forward_timeout_ms, at least ${RELAY_TIMEOUT_MS} ms for a relay${waitMs > 0 ? ", plus the write's timeout_ms" : ''}`;
    // A write carries the deadline past which its owner must not start it (forward-deadline.ts):
    // the relay's own bound, as the owner starts a `w` write before it waits for its replicas.
    const deadline = write ? { [DEADLINE_HEADER]: deadlineFor(this.relayMs) } : {};
    const silence = { ...this.silence(this.relayMs, bound), headMs: this.relayMs + waitMs };
    const { res, data } = await answered(silence, async ({ signal, heard }) => {
      const res = await dispatcher.request({
        origin: `${this.scheme}://${owner}`,
        path,
        method,
        headers: { ...conditions, ...deadline, [FORWARDED_HEADER]: '1' },
        ...(body === undefined ? {} : { body }),
        signal,
      });
      return { res, data: await bytesOf(res, heard, relayCap(this.maxValueBytes)) };
    });
    const headers: [string, string][] = [];
    for (const [name, value] of Object.entries(res.headers))
      if (
        (name === 'content-type' || name === 'etag' || name.startsWith('x-distkv-') || name === 'location') &&
        typeof value === 'string'
      )
        headers.push([name, value]);
    return { status: res.statusCode, headers, body: data };
  }

  /** silence is the Silence of an exchange whose owner may be silent `ms` at a time, named `bound`. */
  private silence(ms: number, bound = 'server.forward_timeout_ms'): Silence {
    return { headMs: ms, chunkMs: ms, ceilingMs: this.ceilingMs, bound };
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }

  private async http(): Promise<{
    request: Awaited<ReturnType<typeof undici>>['request'];
    dispatcher: Agent;
  }> {
    const u = await undici();
    this.agent ??= new u.Agent({
      connections: 8,
      // Under a node's idle limit (10 s, http1-connection.ts): this side closes first, so a
      // forwarded request never goes out on a connection the owner is closing just then.
      keepAliveTimeout: 4000,
      ...(this.ca === undefined ? {} : { connect: { ca: this.ca } }),
    });
    return { request: u.request, dispatcher: this.agent };
  }
}

/** ScanAnswer is an owner's JSON answer to a forwarded scan part (collection-routes.ts). */
interface ScanAnswer {
  items?: { key: string; key_base64?: string; value_base64: string; version?: string }[];
  next?: string | null;
  missing_shards?: number[];
  replica_lag?: Record<string, string>;
  error?: WireError;
}

/** BatchAnswer is an owner's JSON answer to a forwarded batch part. */
interface BatchAnswer {
  results?: ({ ok: true } | { ok: false; error: WireError })[];
  error?: WireError;
}

/**
 * Unanswered is how a forwarded write settled for the ones after it: undefined when its owner
 * answered it, else the error of no answer and until when (Date.now() ms) the writes behind it
 * are held back.
 */
type Unanswered = { error: Error; until: number } | undefined;

function answeredOk(): Unanswered {
  // a forwarded write's outcome is its caller's; the next one only waits for it to settle
  return undefined;
}

/** unansweredBy is how a write that failed with `err` settled: answered when `err` is the owner's own DistkvError. */
function unansweredBy(err: unknown): Unanswered {
  if (err instanceof DistkvError) return undefined;
  return { error: err instanceof Error ? err : new Error(String(err)), until: Date.now() + HOLD_BACK_MS };
}

/** remoteError keeps the owner's error code (CONFIG_MISMATCH matters to the caller) when it sent one. */
function remoteError(status: number, error: WireError | undefined): Error {
  if (error !== undefined && isErrorCode(error.code)) return new DistkvError(error.code, error.message);
  return new Error(`HTTP ${status}`);
}
