/**
 * handOverLeads: a graceful stop of a process that runs with a coordinator (etcd) gives its lease
 * back, and a replica of each shard it leads takes the shard over at once with the records it
 * holds (docs/failover.md, "Automatic failover with etcd"). Replication is asynchronous, so the
 * last writes the leader acknowledged (`w=0`, the default) were often not pulled yet: the lease
 * went first, the front door closed the replicas' pull connections and refused new ones, and the
 * replica was promoted without them. The restarted node cut them into its divergence file: a
 * rolling restart under load lost 1 to 5 acknowledged writes per stopped leader, and reads at the
 * new leader answered values older than writes already acknowledged.
 *
 * So before the lease goes, each leader store with a replica in another process is fenced at its
 * worker (the writes it accepted settle first, later ones get 503 SWITCHING_LEADER, which clients
 * wait out), and the stop waits, bounded by `limitMs`, until one replica outside this process
 * holds the store's last seq: the most advanced replica wins the campaign, so that one takes the
 * shard over with every acknowledged write. The front door keeps listening meanwhile, so the
 * replicas can pull (replication routes are served while draining; client requests get 503
 * DRAINING). A replica that does not catch up in time (down, cut off, or restarted with a file that
 * gives the shard other slots or another leader: its pulls are refused as CONFIG_MISMATCH; one
 * whose file gives the same copies on, src/replication/leader-config.ts) is logged, with why it
 * may be: the stop goes on and the records it lacks end in this node's divergence file when it
 * comes back, unless no replica takes the shard over meanwhile. Replicas on another file do not
 * (campaign.ts): this node restarted with their file leads on with every write it acknowledged.
 * Replicas in this process count as holding the seq only beyond the remote one waited for: they
 * stop with it.
 *
 * The pulls that bring a replica the last seq are served as always: the stop wakes the replicas'
 * parked pulls (src/util/stop-wakes.ts) only after this handover and the lease's release
 * (node-drain.ts), once the front door has stopped accepting. Ended before, the handover's pulls would
 * not park: a replica with nothing new yet would be answered at once and ask again and again,
 * reconnecting each time (those answers close their connections), instead of being woken by the
 * last records. Woken after, the pull a caught-up replica has parked then (its ack is the last
 * seq) is answered at once: the stop does not wait one more `replication.pull_wait_ms`.
 */
import type { Logger } from 'pino';
import type { LiveMap } from '../routing/live-map.js';
import { OP_WAIT, ST_DONE } from '../worker/op-format.js';
import type { NodePlan } from './node-plan.js';
import type { WorkerPool } from './worker-pool.js';

/** HANDOVER_LIMIT_MS bounds how long a graceful stop waits for replicas to hold its leaders' last writes. */
export const HANDOVER_LIMIT_MS = 2000;

/** Handover is what handOverLeads found for one leader store. */
export interface Handover {
  shard: string;
  lastSeq: number;
  /** caughtUp: a replica outside this process holds lastSeq. */
  caughtUp: boolean;
}

/** handOverLeads fences this process's leader stores and waits for a remote replica of each to hold its last seq (see above). */
export async function handOverLeads(
  plan: NodePlan,
  pool: WorkerPool,
  map: LiveMap,
  log: Logger,
  limitMs = HANDOVER_LIMIT_MS,
): Promise<Handover[]> {
  const here = new Set(plan.listeners.map((l) => l.address));
  const deadline = performance.now() + limitMs;
  const waits: Promise<Handover>[] = [];
  for (const st of plan.stores) {
    if (st.role !== 'leader' || pool.storeFailure(st.index) !== undefined) continue;
    const live = map.shards.find((s) => s.idx === st.shard.idx);
    if (live === undefined || live.leader !== st.node) continue;
    const local = live.replicas.filter((r) => here.has(r)).length;
    if (local === live.replicas.length) continue;
    waits.push(
      (async (): Promise<Handover> => {
        const fenced = await pool.call(st.worker, { type: 'fence', store: st.index, on: true });
        const lastSeq = fenced.type === 'fence-result' ? fenced.lastSeq : pool.lastSeq(st.index);
        const acked = await waitAcks(pool, st.worker, st.index, lastSeq, local + 1, deadline);
        return { shard: st.shard.name, lastSeq, caughtUp: acked >= local + 1 };
      })(),
    );
  }
  const done = await Promise.all(waits);
  for (const h of done)
    if (!h.caughtUp)
      log.warn(
        { shard: h.shard, last_seq: h.lastSeq, limit_ms: limitMs },
        `stopping: no replica of ${h.shard} in another process holds its seq ${h.lastSeq} after ${limitMs} ms: they are down, cut off, or route with a sharding.toml that gives the shard other slots or another leader (their pulls refused as CONFIG_MISMATCH, logged above). The lease goes now; a replica that takes the shard over lacks the writes above its own seq (this node keeps them in a divergence file when it comes back). Replicas on another file do not take it over while this node last answered with its own (docs/failover.md, "A rolling config change"): start it again at once with their file and it leads on with every write`,
      );
  return done;
}

/** waitAcks resolves with how many replicas of `store` hold `seq`, once `n` do or at `deadline`. */
function waitAcks(
  pool: WorkerPool,
  worker: number,
  store: number,
  seq: number,
  n: number,
  deadline: number,
): Promise<number> {
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeDoubleLE(seq, 0);
  return new Promise((resolve) => {
    pool.submit(
      worker,
      OP_WAIT,
      store,
      '',
      seqBytes,
      {
        onReply: (status, acked) => {
          resolve(status === ST_DONE ? acked : 0);
        },
      },
      n,
      Math.max(1, Math.round(deadline - performance.now())),
    );
  });
}
