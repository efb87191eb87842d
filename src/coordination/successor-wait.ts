/**
 * awaitSuccessors: the end of a graceful stop with etcd (EtcdCoordinator.stop). Once the stopping
 * process's lease is revoked, a replica of each shard it led campaigns and takes the shard over:
 * its watch sees the key go, it wins the campaign and publishes the map naming it (campaign-gate.ts
 * decides when: 1.3 s after the release at a 1 s TTL in that test). Until then no node's map names
 * a leader that takes the shard's writes. The front door closed right after the revoke
 * (node-drain.ts), so a client's write in that gap found nothing
 * listening at the old leader and, reloading `/cluster`, no new leader anywhere: it failed
 * SHARD_UNREACHABLE (16 to 48 writes of 8 writers per stop, test/e2e/etcd-graceful-stop-handover).
 *
 * So the stop waits, bounded by `boundMs`, until etcd's map names another leader for each shard
 * led here that a replica elsewhere caught up with (drain-handover.ts), and then adopts that map:
 * the front door still listens meanwhile and answers those shards' requests 503 DRAINING (nothing
 * executed), which clients wait out while they look for a newer map at every node
 * (src/client/sender.ts); once adopted, this node's `/cluster` names the successor too (a client
 * whose connection was cut by the stop reloads it here as anywhere). A shard whose successor does
 * not come in time is left to the clients' own waits, as before.
 */
import type { Logger } from 'pino';
import type { LiveMap } from '../routing/live-map.js';
import type { Snapshot } from './etcd-keyspace.js';

/** SUCCESSOR_POLL_MS spaces the stop's reads of etcd's map while it waits for the successors. */
export const SUCCESSOR_POLL_MS = 50;

/**
 * awaitSuccessors reads etcd's map through `read` every SUCCESSOR_POLL_MS until it names, for each
 * shard named in `shards`, a leader outside `hosted`, and returns that map; or undefined once
 * `boundMs` passed or a read failed.
 */
export async function awaitSuccessors(
  read: () => Promise<Snapshot>,
  hosted: ReadonlySet<string>,
  shards: readonly string[],
  boundMs: number,
  log: Logger,
): Promise<LiveMap | undefined> {
  if (shards.length === 0) return undefined;
  const deadline = performance.now() + boundMs;
  for (;;) {
    // A read that fails ends the wait: etcd is unreachable from here (paused, down, cut off),
    // and a stop must not wait on it (the replicas cannot campaign without it either).
    const snap = await read().catch(() => undefined);
    if (snap === undefined) return undefined;
    const live = snap.map?.live;
    // A shard no member elsewhere can campaign for is not waited for: each member publishes its
    // seq under its process's lease, so a replica stopped just before this node (the handover
    // counted it caught up on its last ack) has none left, and no successor comes.
    const waiting = shards.filter((name) => {
      const s = live?.shards.find((x) => x.name === name);
      const candidates = (snap.seqs.get(name) ?? []).filter((p) => !hosted.has(p.address));
      return (s === undefined || hosted.has(s.leader)) && candidates.length > 0;
    });
    if (waiting.length === 0) return live;
    if (performance.now() + SUCCESSOR_POLL_MS > deadline) {
      log.info(
        { shards: waiting },
        `stopping: etcd named no new leader for ${waiting.join(', ')} within ${boundMs} ms of the lease's release; clients wait for it themselves`,
      );
      return undefined;
    }
    await new Promise((r) => setTimeout(r, SUCCESSOR_POLL_MS));
  }
}
