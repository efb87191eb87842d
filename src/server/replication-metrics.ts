/**
 * Replication lag for /metrics, per replica hosted in this process, labelled `{shard,replica}`
 * (`replica` is the replica's node address). Read at scrape time from the shared positions the
 * workers publish (src/replication/positions.ts), so a scrape costs no message to the workers:
 *
 *   distkv_replication_connected{shard,replica}    1 while the replica follows its leader
 *                                                   (streaming or catching up), else 0
 *   distkv_replication_lag_seqs{shard,replica}     leader's last seq − replica's durable ack
 *   distkv_replication_lag_seconds{shard,replica}  how long ago the replica provably held all its
 *                                                   leader had (0 when caught up with a leader in this
 *                                                   process; up to a long poll with one elsewhere)
 *
 * The leader's last seq is read directly when the leader is in this process, else as the replica
 * last heard it. A replica whose lag is unknown (disconnected, starting, resyncing) has
 * no lag samples: its lag is unknown, and reporting 0 would claim it is caught up. Alert on
 * `distkv_replication_connected == 0` for those (docs/operations.md).
 */
import { Gauge, type Registry } from 'prom-client';
import { replicaLag } from '../replication/lag.js';
import type { StoreSpec } from '../worker/messages.js';
import { SLOT_LAST_SEQ } from '../replication/positions.js';
import type { WorkerPool } from './worker-pool.js';

/** ReplicaLagSample is one replica's position as /metrics reports it; lag fields are undefined when unknown. */
export interface ReplicaLagSample {
  shard: string;
  replica: string;
  connected: boolean;
  lagSeqs: number | undefined;
  lagSeconds: number | undefined;
}

/** replicaLags reads every hosted replica's lag from the shared positions (src/replication/lag.ts decides what is known). */
export function replicaLags(
  pool: WorkerPool,
  stores: readonly StoreSpec[],
  pullWaitMs: number,
  nowMs: number,
): ReplicaLagSample[] {
  const p = pool.positions;
  return stores
    .filter((st) => st.role === 'replica')
    .map((st) => {
      const leaderStore = st.replication?.leaderStore;
      const liveLeaderSeq = leaderStore === undefined ? undefined : p.get(leaderStore, SLOT_LAST_SEQ);
      const lag = replicaLag(p, st.index, liveLeaderSeq, pullWaitMs, nowMs);
      return {
        shard: st.shard.name,
        replica: st.node,
        connected: lag.known,
        lagSeqs: lag.known ? lag.lagSeqs : undefined,
        lagSeconds: lag.known && lag.lagMs !== undefined ? lag.lagMs / 1000 : undefined,
      };
    });
}

/** registerReplicationMetrics adds the replication lag gauges to `registry`. */
export function registerReplicationMetrics(
  registry: Registry,
  pool: WorkerPool,
  stores: readonly StoreSpec[],
  pullWaitMs: number,
): void {
  const gauge = (name: string, help: string, value: (r: ReplicaLagSample) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['shard', 'replica'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of replicaLags(pool, stores, pullWaitMs, Date.now())) {
          const v = value(r);
          if (v !== undefined) this.set({ shard: r.shard, replica: r.replica }, v);
        }
      },
    });
  };
  gauge(
    'distkv_replication_connected',
    'replicas hosted here: 1 while following the leader (streaming or catching up), 0 otherwise',
    (r) => (r.connected ? 1 : 0),
  );
  gauge(
    'distkv_replication_lag_seqs',
    "replicas hosted here: writes the replica's durable ack is behind its leader (absent while not connected)",
    (r) => r.lagSeqs,
  );
  gauge(
    'distkv_replication_lag_seconds',
    'replicas hosted here: seconds since the replica last provably held all its leader had (absent while the lag is unknown)',
    (r) => r.lagSeconds,
  );
}
