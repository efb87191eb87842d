/**
 * The documents a node describes itself with, as the client reads them: `/cluster` (the shards,
 * their owners and lag, docs/api.md) and `/stats`. `clusterDoc` without a node asks the configured
 * nodes in turn, then the other nodes of the map the client has, as a reload asks them
 * (topology.ts, askable): with the first one down (a killed leader), `distkv cluster` is what the
 * operator runs, and it must show that, not fail; with every configured node gone for good, a
 * client that knows live nodes from its map asks them (it used to fail, and `distkv restore` asked
 * the map's nodes itself). Each but the last is given one attempt's time: a stopped node (SIGSTOP)
 * answers nothing, and its retries held the command 49 s before it asked the next.
 */
import { DistkvError } from '../errors.js';
import { nodeAuthority } from './endpoint.js';
import type { Sender } from './sender.js';
import { type ClusterTopology, othersText } from './topology.js';
import type { CallOptions, ClusterView, NodeStats } from './types.js';
import { viewRoutes } from './view-routes.js';
import { answerJson, clusterRefusal } from './wire-decode.js';

/** clusterDoc returns the /cluster document of `node` (host:port or a url), or of the first node that answers (see above). */
export async function clusterDoc(
  sender: Sender,
  topo: ClusterTopology,
  timeoutMs: number,
  node: string | undefined,
  options: CallOptions,
): Promise<ClusterView> {
  if (node !== undefined) return clusterAt(sender, nodeAuthority(node, topo.scheme), options);
  let last: unknown;
  const asking = topo.askable();
  for (const [i, origin] of asking.entries()) {
    // timeoutMs 0 is no timeout, as undici reads it for every request (AbortSignal.timeout(0)
    // aborted the attempt at once: only the last node was ever asked).
    const bound = i === asking.length - 1 || timeoutMs === 0 ? undefined : AbortSignal.timeout(timeoutMs);
    const signal =
      bound === undefined || options.signal === undefined
        ? (bound ?? options.signal)
        : AbortSignal.any([options.signal, bound]);
    try {
      return await clusterAt(sender, new URL(origin).host, signal === undefined ? {} : { signal });
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

async function clusterAt(sender: Sender, node: string, options: CallOptions): Promise<ClusterView> {
  try {
    const r = await sender.send('GET', node, '/cluster', undefined, true, options.signal);
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
    undefined,
    true,
    options.signal,
  );
  return answerJson(r.body, '/stats') as NodeStats;
}
