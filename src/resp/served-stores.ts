/**
 * The stores a keyspace read covers, and when it must refuse. A keyspace read (SCAN, DBSIZE, KEYS,
 * RANDOMKEY, INFO's keyspace, a WAIT without writes of its own) covers the stores this node
 * serves: the shards whose leader is this node (after READONLY, also the replicas hosted at its
 * address), so a cluster client that scans every node sees every key once.
 * SCAN, DBSIZE and KEYS answer -TRYAGAIN while a leader store they would read answers no reads
 * (held by a failover, or without its lease: `heldAt`; -ERR LEADER_BEHIND's message for a leader
 * that started behind its replica, which serves nothing until a failover), or while a store they
 * would read holds a slot a peer's config gives another leader (`disputedAt`;
 * src/server/slot-gate.ts): that leader may hold keys and writes the answer would miss (RANDOMKEY
 * leaves such stores out, random-key.ts; INFO counts them and says so, `disputedServed`). INFO
 * leaves out the keys of a held leader's store, and says so (`readableServed`).
 */
import { behindPrefix, type LocalTarget } from './key-route.js';
import type { Pending } from './reply-queue.js';
import type { RespConnection } from './resp-connection.js';
import { slotCount, type SlotRange } from '../routing/slot-dispute.js';
import { heldReadMessage, leaselessReadMessage } from '../server/map-keeper.js';

/** ServedStore is a local store holding this node's keys, with the index of its shard. */
export interface ServedStore {
  shard: number;
  target: LocalTarget;
}

/** servedShards lists the local stores holding this node's keys, in shard order. */
export function servedShards(c: RespConnection): ServedStore[] {
  const { listener, plan } = c.ctx;
  const out: ServedStore[] = [];
  for (const s of c.ctx.liveShards()) {
    const read = listener.reads[s.idx]!;
    if (c.readonly && read.local && plan.stores[read.store]!.node === listener.address)
      out.push({ shard: s.idx, target: read });
    else {
      const write = listener.writes[s.idx]!;
      if (write.local && s.address === listener.address) out.push({ shard: s.idx, target: write });
    }
  }
  return out.sort((a, b) => a.shard - b.shard);
}

/** servedStores lists the local stores holding this node's keys, in shard order. */
export function servedStores(c: RespConnection): LocalTarget[] {
  return servedShards(c).map((s) => s.target);
}

/** servedRanges are the slots of the stores this node serves (servedShards). */
function servedRanges(c: RespConnection): SlotRange[] {
  return servedShards(c).map((s) => c.ctx.shardMap.shard(s.shard).slots);
}

/** disputedServed counts the slots of the stores this node serves that a peer's config gives another leader. */
export function disputedServed(c: RespConnection): number {
  const gate = c.ctx.slotGate;
  return gate?.some === true ? slotCount(gate.disputedReads(servedRanges(c))) : 0;
}

/**
 * disputedAt answers `p` with -TRYAGAIN and returns true when the stores this node serves hold a
 * slot, among those the keys under `prefix` may hash to, that a peer's config gives another leader.
 */
export function disputedAt(c: RespConnection, p: Pending, what: string, prefix: Uint8Array): boolean {
  const gate = c.ctx.slotGate;
  if (gate?.some !== true) return false;
  const refusal = gate.readRefusal(what, servedRanges(c), prefix);
  if (refusal === undefined) return false;
  c.queue.completeWith(p, (w) => {
    w.error(`TRYAGAIN ${refusal.message}`);
  });
  return true;
}

/**
 * heldAt answers `p` with -TRYAGAIN and returns true when a leader store this node serves answers
 * no reads now: its writes held by a failover, or its lease lapsed (as a key read there,
 * key-route.ts, and an HTTP scan, collection-routes.ts). Its target may lead the shard already, and
 * the keys it lists could lack that leader's writes, or name keys it deleted.
 */
export function heldAt(c: RespConnection, p: Pending, what: string): boolean {
  for (const s of servedShards(c)) {
    // A leader that started behind its replica serves nothing of its shard until a failover (as a
    // key read here, key-route.ts): -ERR naming the replica and the command, not -TRYAGAIN "being
    // switched", which no switch ends (its writes are held too, so it read as a failover's hold);
    // -TRYAGAIN once it gave up its leader key for the replica to take over (behindPrefix).
    const behind = s.target.role === 'leader' ? c.ctx.behindError?.(s.shard) : undefined;
    if (behind !== undefined) {
      c.queue.completeWith(p, (w) => {
        w.error(`${behindPrefix(behind)} ${what}: ${behind.message}`);
      });
      return true;
    }
    const why = heldReason(c, s);
    if (why === undefined) continue;
    c.queue.completeWith(p, (w) => {
      w.error(`TRYAGAIN ${what}: ${why}`);
    });
    return true;
  }
  return false;
}

/**
 * heldReason says why served store `s` answers no reads now (it did not open, its writes are held,
 * or it has no lease), or undefined when it answers them. A store that did not open counts no keys:
 * DBSIZE answered 0 and INFO's keyspace was empty for a node whose every store had failed (while
 * SCAN and each key answered the failure), a monitor's picture of an empty database.
 */
function heldReason(c: RespConnection, { shard, target }: ServedStore): string | undefined {
  const failed = c.ctx.pool.storeFailure(target.store);
  if (failed !== undefined) return failed.message;
  if (c.ctx.leaderWithoutLease(target.role, shard)) return leaselessReadMessage(shard);
  return c.ctx.readsHeld?.(target.role, shard) === true ? heldReadMessage(shard) : undefined;
}

/**
 * readableServed splits the stores this node serves into those that answer reads now and those
 * heldAt refuses (with their slot count): INFO counts the keys of the first only, as DBSIZE would.
 */
export function readableServed(c: RespConnection): { readable: LocalTarget[]; heldSlots: number } {
  const readable: LocalTarget[] = [];
  let heldSlots = 0;
  for (const s of servedShards(c))
    if (heldReason(c, s) === undefined) readable.push(s.target);
    else heldSlots += slotCount([c.ctx.shardMap.shard(s.shard).slots]);
  return { readable, heldSlots };
}

/** unreadableAt answers `p` with -TRYAGAIN and returns true when heldAt or disputedAt would. */
export function unreadableAt(c: RespConnection, p: Pending, what: string, prefix: Uint8Array): boolean {
  return heldAt(c, p, what) || disputedAt(c, p, what, prefix);
}
