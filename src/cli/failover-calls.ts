/**
 * The admin calls `distkv failover` makes to the members of a shard (docs/failover.md, "Planned
 * failover", "Who holds a shard"): each member's `GET /cluster` (its map and its replicas' acks),
 * `POST /_admin/fence` to hold a leader's writes or a replica's following in the failover's name,
 * and the release of such a hold. A member's error answer is rebuilt with its own code.
 */
import { type Dispatcher, fetch } from 'undici';
import { DistkvError, isErrorCode } from '../errors.js';
import type { LiveMap } from '../routing/live-map.js';
import { readFetchText } from '../util/peer-answer.js';

const NODE_TIMEOUT_MS = 2000;
/**
 * FENCE_SLACK_MS is how long past the catch-up timeout the leader holds writes if this command
 * dies, and how long the replicas' claims last (`--hold-slack-ms` sets it, within
 * MIN_FENCE_SLACK_MS..MAX_FENCE_SLACK_MS): time enough for the steps after the catch-up (the claims,
 * the map posted to every member), which take a few requests.
 */
export const FENCE_SLACK_MS = 10000;
/** MIN_FENCE_SLACK_MS bounds --hold-slack-ms from below: shorter, a hold could run out between two of the command's own requests. */
export const MIN_FENCE_SLACK_MS = 1000;
/** MAX_FENCE_SLACK_MS bounds --hold-slack-ms from above (ten minutes: a dead command's holds keep the shard from writes that long). */
export const MAX_FENCE_SLACK_MS = 600_000;
/** MAX_HOLD_MS is the longest hold a node takes (src/http/failover-routes.ts, MAX_FENCE_MS): --timeout-ms plus the slack. */
export const MAX_HOLD_MS = 3_600_000;

/** NodeDoc is the part of a member's `GET /cluster` the failover reads. */
export interface NodeDoc {
  map: LiveMap;
  shards: {
    idx: number;
    /** local_error names, with state `disk-failed`, what stops the replica's store writing (admin-routes.ts). */
    replicas: {
      address: string;
      local: boolean;
      acked_seq?: number;
      state?: string;
      local_error?: string;
      /** leader_view is what the leader heard of the replica's pulls (at the leader's node: replica-pulls.ts). */
      leader_view?: { following?: boolean; refused?: { code: string; ms_ago: number } };
    }[];
  }[];
}

/**
 * AdminAuth is how the calls reach the members: the bearer token ('' for none) and, for https://
 * nodes whose certificates a private CA signed (`--ca`, `DISTKV_CA`), a dispatcher trusting it.
 */
export interface AdminAuth {
  token: string;
  dispatcher?: Dispatcher;
}

/** unanswered holds the errors `call` threw because its node did not answer (see `isUnanswered`). */
const unanswered = new WeakSet<DistkvError>();

/**
 * isUnanswered tells whether `err` is a call's SHARD_UNREACHABLE for a node that did not answer
 * (connection refused or lost, timed out): unlike its refusal, the call may have been executed.
 */
export function isUnanswered(err: unknown): boolean {
  return err instanceof DistkvError && unanswered.has(err);
}

/**
 * call sends one admin request and answers its JSON (throws the node's refusal, or
 * SHARD_UNREACHABLE naming the call when the node does not answer: it said "fetch failed").
 */
export async function call(
  url: string,
  auth: AdminAuth,
  init: { method?: string; body?: string } = {},
): Promise<unknown> {
  const what = `${init.method ?? 'GET'} ${url}`;
  let text: string;
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(url, {
      ...init,
      headers: {
        ...(auth.token === '' ? {} : { authorization: `Bearer ${auth.token}` }),
        'content-type': 'application/json',
      },
      signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
      ...(auth.dispatcher === undefined ? {} : { dispatcher: auth.dispatcher }),
    });
    // Read with a byte cap, as a node reads a peer's answer: `res.text()` gathered whatever the
    // node sent within the timeout. Past it the call counts as unanswered (it may have been executed).
    text = await readFetchText(res, NODE_TIMEOUT_MS, `the answer to ${what}`);
  } catch (err) {
    const e = new DistkvError('SHARD_UNREACHABLE', `${what}: no answer (${failureText(err)})`, {
      cause: err,
    });
    unanswered.add(e);
    throw e;
  }
  if (!res.ok) throw refusal(what, res.status, text);
  return JSON.parse(text) as unknown;
}

/**
 * failureText is a failed fetch's message with its cause's ("fetch failed" alone names nothing),
 * or that it timed out after `timeoutMs`.
 */
export function failureText(err: unknown, timeoutMs = NODE_TIMEOUT_MS): string {
  const e = err as { name?: unknown; message?: unknown; cause?: { message?: unknown } } | undefined;
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = typeof e?.cause?.message === 'string' ? `: ${e.cause.message}` : '';
  return `${typeof e?.message === 'string' ? e.message : String(err)}${cause}`;
}

/**
 * refusal rebuilds a node's error answer with its own code (STARTING while it starts,
 * UNAUTHORIZED without the token), naming the call. A 400 stays INTERNAL: the node refused what
 * this command built, which is no mistake of the user's (and must not exit 2).
 */
function refusal(call: string, status: number, text: string): DistkvError {
  let wire: { code?: unknown; message?: unknown } | undefined;
  try {
    wire = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
  } catch {
    wire = undefined;
  }
  if (status !== 400 && isErrorCode(wire?.code) && typeof wire.message === 'string')
    return new DistkvError(wire.code, `${call}: ${wire.message}`);
  return new DistkvError('INTERNAL', `${call}: HTTP ${status} ${text.trim()}`);
}

/** clusterOf is `node`'s `/cluster`, or undefined when it does not answer. */
export async function clusterOf(scheme: string, node: string, auth: AdminAuth): Promise<NodeDoc | undefined> {
  try {
    return (await call(`${scheme}://${node}/cluster`, auth)) as NodeDoc;
  } catch {
    return undefined;
  }
}

/** ackOf is the durable ack of replica `address` of shard `idx`, as its own node reports it. */
export function ackOf(doc: NodeDoc | undefined, idx: number, address: string): number | undefined {
  const r = doc?.shards.find((s) => s.idx === idx)?.replicas.find((x) => x.address === address && x.local);
  return r?.acked_seq;
}

/**
 * releaseFence lets the leader take writes (or the target replica follow) again after a failover
 * that did not happen; at the leader, `by` names this failover, so it never releases another's hold.
 */
export async function releaseFence(
  scheme: string,
  node: string,
  idx: number,
  auth: AdminAuth,
  by?: string,
): Promise<void> {
  const named = by === undefined ? '' : `&by=${by}`;
  await call(`${scheme}://${node}/_admin/fence?shard=${idx}&on=0${named}`, auth, { method: 'POST' });
}

/** FenceAnswer is what /_admin/fence answers (`map_version` is missing from nodes before it). */
export interface FenceAnswer {
  last_seq: number;
  map_version?: number;
}

/**
 * fence holds shard `idx` at `node` for this failover (`by`) during `ms`: a leader's writes, or a
 * replica's following (its last seq then stays put).
 */
export async function fence(
  scheme: string,
  node: string,
  idx: number,
  auth: AdminAuth,
  ms: number,
  by: string,
): Promise<FenceAnswer> {
  const url = `${scheme}://${node}/_admin/fence?shard=${idx}&on=1&ms=${ms}&by=${by}`;
  return (await call(url, auth, { method: 'POST' })) as FenceAnswer;
}
