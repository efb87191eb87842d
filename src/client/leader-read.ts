/**
 * A key read that a replica answered while the client reads leaders only (docs/api.md, "Write
 * concern and what reads see").
 *
 * Without `replicaReads` the client sends a key read to the node its map names as the shard's
 * leader. After a failover that node may follow the new leader as a replica, and a replica answers
 * a read from its own store, with X-Distkv-Lag. Returned as the leader's answer, it could be older
 * than a write the new leader had acknowledged, and the client, routing with its stale map, would
 * not know (test/e2e/lin-forced-stale-map.test.ts). So an answer with X-Distkv-Lag to a read sent
 * to a leader means the map is stale: the client looks for the newest map at every node and
 * reads the leader it names, every RETRY_MS for up to WAIT_MS, and never returns a replica's answer
 * (SWITCHING_LEADER past that).
 */
import { DistkvError } from '../errors.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { abortable, type Reply, sleep } from './exchange.js';
import type { Sender } from './sender.js';
import type { ClusterTopology } from './topology.js';

/** WAIT_MS bounds how long a read keeps looking for a leader after replicas answered it. */
const WAIT_MS = 5000;
/** RETRY_MS spaces the looks. */
const RETRY_MS = 100;

/**
 * readAtLeader sends the GET of `path` again to shard `shard`'s leader in the newest map, until a
 * node answers it as the leader; `servedBy` is the node that answered as a replica.
 */
export async function readAtLeader(
  sender: Sender,
  topology: ClusterTopology,
  shard: ShardInfo,
  path: string,
  signal: AbortSignal | undefined,
  servedBy: string,
): Promise<Reply> {
  const deadline = performance.now() + WAIT_MS;
  let last = servedBy;
  for (;;) {
    await abortable(topology.loadNewest(), signal).catch(() => undefined);
    const leader = topology.map?.shard(shard.idx) ?? shard;
    const r = await sender.send('GET', leader.address, path, undefined, true, signal, leader);
    if (r.lag === undefined) return r;
    last = leader.address;
    if (performance.now() >= deadline)
      throw new DistkvError(
        'SWITCHING_LEADER',
        `shard ${shard.idx}'s leader in this client's newest map (${last}, first ${servedBy}) answered the read as a replica for ${WAIT_MS} ms: no node names another leader yet; retry shortly`,
      );
    await sleep(RETRY_MS, signal);
  }
}
