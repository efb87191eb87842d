/**
 * ClusterDocFetch: one ask of another node's `GET /cluster` document, for the two places a node
 * asks a peer for it: the peer check (peer-check.ts: every PEER_CHECK_MS, through an agent it
 * keeps) and the check of a pull's claim (behind-confirm.ts: once, on a connection of its own).
 * Both had written out the request, the byte cap, the parse and the config-hash check, and they
 * had drifted apart: the peer check took a non-200 answer with a JSON body (a peer at its
 * `server.max_connections` answers 503 with the catalogue's JSON) for a document of another
 * config, so it refused every slot (SLOTS_DISPUTED) while that peer was busy, and it said nothing
 * of a body that was not JSON; the claim's check called a body that was not JSON "not read
 * within 1000 ms".
 *
 * The answer is one of:
 *  - `agrees`: a 200 whose JSON object's `version` (the topology hash) is this node's;
 *  - `differs`: a 200 JSON object with another `version` (or none): the peer routes with another
 *    config, and its document says how (its shards, read by the caller);
 *  - `silent`: no answer (no connection, no head within `timeoutMs`): normal while a cluster
 *    starts one host at a time; its `cause` is the failure's message (`connect ECONNREFUSED ...`),
 *    and `late` tells one that ran out of `timeoutMs` (no connection or no head in time: a GC
 *    pause, a busy or stopped process, a partition) from one refused or closed (no process there);
 *    `tls` is a TLS handshake that failed (src/util/tls-failure.ts: a certificate not trusted,
 *    expired, naming another address): the peer is up, but nothing is read of it until an operator acts;
 *  - `unread`: an answer that is not a `/cluster` document: a body past CLUSTER_DOC_BYTES or not
 *    ended within `timeoutMs`, a status other than 200 (the first 200 characters of its body in
 *    the reason), a body that is not a JSON object. Its reason names the node.
 * It never throws: every failure is one of the last two, with its cause or reason.
 */
import type { Dispatcher } from 'undici';
import { undici } from '../util/lazy-undici.js';
import { CLUSTER_DOC_BYTES, ERROR_BODY_BYTES, readBody } from '../util/peer-answer.js';
import { type TlsFailure, tlsFailureOf } from '../util/tls-failure.js';

/** ClusterDoc is a `/cluster` document as read here: a JSON object, its fields unchecked. */
export interface ClusterDoc {
  version?: unknown;
  map?: unknown;
  shards?: unknown;
  /** auth: "token" when the node requires server.token on internal and admin requests, "none" when it runs without one. */
  auth?: unknown;
}

/** ClusterAnswer is what one ask of a node's `/cluster` gave (see the design block). */
export type ClusterAnswer =
  | { kind: 'agrees'; doc: ClusterDoc }
  | { kind: 'differs'; version: string | undefined; doc: ClusterDoc }
  | { kind: 'silent'; cause: string; late: boolean; tls?: TlsFailure }
  | { kind: 'unread'; reason: string };

/** ClusterFetchOptions is how one ask is made. */
export interface ClusterFetchOptions {
  scheme: 'http' | 'https';
  /** hash is this node's topology hash, which the answer's `version` is compared with. */
  hash: string;
  /** timeoutMs bounds the ask from its start (connection, head and body), and the body's read too. */
  timeoutMs: number;
  /**
   * agent is a dispatcher the caller keeps (the peer check's, kept alive between rounds); without
   * it the ask has an agent of its own with one connection, trusting `ca` for https, destroyed
   * once the answer is read or given up.
   */
  agent?: Dispatcher;
  /** ca is the PEM of the CA(s) trusted for https (server.tls_ca) when there is no `agent`. */
  ca?: Buffer;
  /**
   * from names the asking node's addresses (PEER_HEADER), so that a peer that counted it
   * unreachable asks it back at once (PeerCheck.heardFrom); the peer check sends it.
   */
  from?: readonly string[];
}

/**
 * PEER_HEADER carries the addresses of the node that asks for `/cluster` (comma-separated): the
 * ask is proof that node is up, which the asked node's own peer check may not know yet.
 */
export const PEER_HEADER = 'x-distkv-peer';

/** REFUSAL_SHOWN is how much of a non-200 answer's body its reason shows. */
const REFUSAL_SHOWN = 200;

/** fetchClusterDoc asks the node at `address` ("host:port") for its `/cluster` (see the design block). */
export async function fetchClusterDoc(address: string, o: ClusterFetchOptions): Promise<ClusterAnswer> {
  const what = `/cluster of ${address}`;
  let own: Dispatcher | undefined;
  try {
    const u = await undici();
    let agent = o.agent;
    if (agent === undefined) {
      own = new u.Agent({ connections: 1, ...(o.ca === undefined ? {} : { connect: { ca: o.ca } }) });
      agent = own;
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await u.request(`${o.scheme}://${address}/cluster`, {
        dispatcher: agent,
        signal: AbortSignal.timeout(o.timeoutMs),
        ...(o.from === undefined || o.from.length === 0
          ? {}
          : { headers: { [PEER_HEADER]: o.from.join(',') } }),
      });
    } catch (err) {
      // The bound's abort (AbortSignal.timeout) rejects with its reason, a TimeoutError.
      const tls = tlsFailureOf(err);
      return {
        kind: 'silent',
        cause: (err as Error).message,
        late: (err as Error).name === 'TimeoutError',
        ...(tls === undefined ? {} : { tls }),
      };
    }
    // A body past its bound throws, its message naming `what` (not when the head's bound, still
    // running, ends it first).
    return await readAnswer(res, what, o).catch((err: unknown) => {
      const message = (err as Error).message;
      return { kind: 'unread' as const, reason: message.startsWith(what) ? message : `${what}: ${message}` };
    });
  } catch (err) {
    // Only undici's loading, or a URL it refuses (an address no config passes).
    return { kind: 'silent', cause: `not asked: ${(err as Error).message}`, late: false };
  } finally {
    // Closed at once, not awaited: the answer is read (or given up).
    void own?.destroy().catch(() => undefined);
  }
}

/**
 * readAnswer reads an answer's body within its bounds: a document when it is a 200 and a JSON
 * object (compared with `o.hash`), else why not. A body past its bound throws, naming `what`.
 */
async function readAnswer(
  res: Dispatcher.ResponseData,
  what: string,
  o: ClusterFetchOptions,
): Promise<ClusterAnswer> {
  if (res.statusCode !== 200) {
    // Only its start is read (and shown): a refusal is a few hundred bytes of JSON.
    const shown = await readBody(res, ERROR_BODY_BYTES, o.timeoutMs, what, true).then(
      (b) => b.toString('utf8').trim().slice(0, REFUSAL_SHOWN),
      () => '',
    );
    return {
      kind: 'unread',
      reason: `${what}: answered ${String(res.statusCode)}, not 200${shown === '' ? '' : `: ${shown}`}`,
    };
  }
  const body = await readBody(res, CLUSTER_DOC_BYTES, o.timeoutMs, what);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return { kind: 'unread', reason: `${what}: the body is not JSON (${(err as Error).message})` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return {
      kind: 'unread',
      reason: `${what}: the body is JSON ${doc === null ? 'null' : Array.isArray(doc) ? 'array' : typeof doc}, not a document (an object)`,
    };
  const d = doc as ClusterDoc;
  const version = typeof d.version === 'string' ? d.version : undefined;
  return version === o.hash ? { kind: 'agrees', doc: d } : { kind: 'differs', version, doc: d };
}
