/**
 * Read-your-writes across nodes on one connection. A node that forwards a client's write to the
 * shard's leader on another node (`--proxy`, a batch part) and hosts a replica of that shard served
 * the client's next read from the replica, which may not have pulled the write yet: a GET right
 * after an acknowledged PUT answered 404 (28 of 30 pipelined rounds, `X-Distkv-Lag: 0`), and a GET
 * after an acknowledged DELETE the value. The connection's reads wait for its unanswered writes
 * (http1-write-order.ts), but the leader's answer comes before the replica has the write.
 *
 * So once a connection forwarded a write to a node, its reads of the shards that node leads are
 * read at the leader, as `leader=1` or `w` > 0 reads are: relayed with `--proxy`, else redirected.
 * Its reads of other shards, and other connections' reads, still take a local replica.
 */
import type { HttpContext } from './context.js';

/** readsLeader tells whether `connection`'s read of `shard` must go to its leader: one on another node it forwarded a write to. */
export function readsLeader(ctx: HttpContext, connection: object, shard: number): boolean {
  const w = ctx.listener.writes[shard]!;
  return !w.local && ctx.forwarder.wroteThrough(connection, w.address);
}
