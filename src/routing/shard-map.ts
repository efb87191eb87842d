/**
 * ShardMap: the routing table shared by the server, the client library and the load generator.
 *
 * Built from the shards of a config (or of a `/cluster` response), it maps every slot to its shard
 * through a 16384-entry table, so routing a key is one hash and one array read. `hash` is a digest
 * of the topology (names, indexes, slot ranges, addresses) and of the slot function, that nodes and
 * clients compare to detect a changed or mismatched config (or a peer that hashes keys otherwise).
 */
import { createHash } from 'node:crypto';
import { SLOT_COUNT, SLOT_FUNCTION, slotOf } from './slot.js';

/** ShardInfo is the routing view of one shard. */
export interface ShardInfo {
  name: string;
  idx: number;
  /** address is the node hosting the leader. */
  address: string;
  replicas: readonly string[];
  slots: { first: number; last: number };
}

/** ShardMap maps keys to shards. */
export class ShardMap {
  readonly shards: readonly ShardInfo[];
  readonly hash: string;
  private readonly slotTable: Uint16Array;

  constructor(shards: readonly ShardInfo[]) {
    this.shards = [...shards].sort((a, b) => a.idx - b.idx);
    this.slotTable = new Uint16Array(SLOT_COUNT).fill(0xffff);
    for (const s of this.shards) this.slotTable.fill(s.idx, s.slots.first, s.slots.last + 1);
    const missing = this.slotTable.indexOf(0xffff);
    if (missing >= 0) throw new Error(`ShardMap: slot ${missing} has no shard`);
    this.hash = topologyHash(this.shards);
  }

  /** shardOfSlot returns the index of the shard owning `slot`. */
  shardOfSlot(slot: number): number {
    return this.slotTable[slot]!;
  }

  /** shardOf returns the index of the shard owning `key`. */
  shardOf(key: string): number {
    return this.slotTable[slotOf(key)]!;
  }

  /** shard returns the shard with index `idx`. */
  shard(idx: number): ShardInfo {
    const s = this.shards[idx];
    if (s?.idx !== idx) throw new RangeError(`no shard with idx ${idx}`);
    return s;
  }
}

/** topologyHash returns a short hex digest of the routing-relevant parts of a shard list. */
export function topologyHash(shards: readonly ShardInfo[]): string {
  const canonical: unknown[] = shards.map((s) => [
    s.idx,
    s.name,
    s.slots.first,
    s.slots.last,
    s.address,
    [...s.replicas],
  ]);
  canonical.push(SLOT_FUNCTION);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}
