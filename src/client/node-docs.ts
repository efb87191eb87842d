/**
 * The documents a node describes itself with, as the client reads them: `/cluster` (the shards,
 * their owners and lag, docs/api.md) and `/stats`. `clusterDoc` without a node asks the configured
 * nodes in turn, then the other nodes of the map the client has, as a reload asks them
 * (topology.ts, askable): with the first one down (a killed leader), `distkv cluster` is what the
 * operator runs, and it must show that, not fail; with every configured node gone for good, a
 * client that knows live nodes from its map asks them (it used to fail, and `distkv restore` asked
 * the map's nodes itself). Each but the last is given one attempt's time: a stopped node (SIGSTOP)
 * answers nothing, and its retries held the command 49 s before it asked the next. One that
 * refuses connections is passed over at once while others remain, and asked again (waiting out
 * the client's refusedWaitMs, a restart's gap) only when no other node answered.
 */
import { DistkvError } from '../errors.js';
import { nodeAuthority } from './endpoint.js';
import { refused } from './exchange.js';
import type { Sender } from './sender.js';
import { type ClusterTopology, othersText } from './topology.js';
import type { CallOptions, ClusterOptions, ClusterView, NodeStats } from './types.js';
import { viewRoutes } from './view-routes.js';
import { answerJson, clusterRefusal } from './wire-decode.js';

/** clusterDoc returns the /cluster document of `node` (host:port or a url), or of the first node that answers (see above); `options.refusedWaitMs` bounds the wait for a refusing node. */
export async function clusterDoc(
  sender: Sender,
  topo: ClusterTopology,
  timeoutMs: number,
  node: string | undefined,
  options: ClusterOptions,
): Promise<ClusterView> {
  if (node !== undefined)
    return clusterAt(sender, nodeAuthority(node, topo.scheme), options, options.refusedWaitMs);
  let last: unknown;
  const asking = topo.askable();
  // A node that refuses connections is passed over at once while other nodes remain to ask (its
  // wait for a restart, refusedWaitMs, held `distkv cluster` 10 s before it asked the next), and
  // asked again with that wait only when no node answered.
  const passed: string[] = [];
  const ask = async (origin: string, bounded: boolean, refusedWaitMs?: number): Promise<ClusterView> => {
    // timeoutMs 0 is no timeout, as undici reads it for every request (AbortSignal.timeout(0)
    // aborted the attempt at once: only the last node was ever asked).
    const bound = !bounded || timeoutMs === 0 ? undefined : AbortSignal.timeout(timeoutMs);
    const signal =
      bound === undefined || options.signal === undefined
        ? (bound ?? options.signal)
        : AbortSignal.any([options.signal, bound]);
    return clusterAt(sender, new URL(origin).host, signal === undefined ? {} : { signal }, refusedWaitMs);
  };
  for (const [i, origin] of asking.entries()) {
    const lastOne = i === asking.length - 1 && passed.length === 0;
    try {
      return await ask(origin, !lastOne, lastOne ? options.refusedWaitMs : 0);
    } catch (err) {
      if (options.signal?.aborted === true) throw err;
      last = err;
      if (!lastOne && refused(err)) passed.push(origin);
    }
  }
  for (const [i, origin] of passed.entries()) {
    try {
      return await ask(origin, i < passed.length - 1, options.refusedWaitMs);
    } catch (err) {
      if (options.signal?.aborted === true) throw err;
      last = err;
    }
  }
  const err = last instanceof DistkvError ? last : new DistkvError('INTERNAL', String(last));
  if (err.code !== 'SHARD_UNREACHABLE') throw err;
  throw new DistkvError(
    'SHARD_UNREACHABLE',
    `no node answered /cluster (${topo.origins.join(', ')}${othersText(asking.length - topo.origins.length)}): ${err.message}`,
    { cause: last },
  );
}

async function clusterAt(
  sender: Sender,
  node: string,
  options: CallOptions,
  refusedWaitMs?: number,
): Promise<ClusterView> {
  try {
    const r = await sender.send('GET', node, '/cluster', {
      read: true,
      signal: options.signal,
      refusedWaitMs,
    });
    const doc = answerJson(r.body, `/cluster of ${node}`) as ClusterView;
    if (!Array.isArray(doc.shards))
      throw new DistkvError('INTERNAL', `/cluster of ${node}: the answer has no "shards" list`);
    // A view no client can route by is refused naming the node (view-routes.ts): `distkv cluster`
    // failed on it with a bare TypeError ("Cannot read properties of undefined") naming nothing.
    viewRoutes(doc, node);
    return doc;
  } catch (err) {
    throw clusterRefusal(node, err);
  }
}

/** statsDoc returns the /stats document of `node` (host:port or a url; the first configured node by default). */
export async function statsDoc(
  sender: Sender,
  topo: ClusterTopology,
  node: string | undefined,
  options: CallOptions,
): Promise<NodeStats> {
  const r = await sender.send(
    'GET',
    node === undefined ? new URL(topo.origins[0]!).host : nodeAuthority(node, topo.scheme),
    '/stats',
    { read: true, signal: options.signal },
  );
  return answerJson(r.body, '/stats') as NodeStats;
}
