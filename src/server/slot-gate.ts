/**
 * SlotGate: the slots this node refuses because a peer's config gives them another leader
 * (src/routing/slot-dispute.ts; docs/operations.md, "When the nodes disagree about the config").
 *
 * Ownership: written only by PeerCheck (main thread) after each peer check; read on the main
 * thread by the places that route a key by its slot: HTTP single keys (key-dispatch.ts `placeKey`;
 * the fast path, kv-fast.ts, leaves a disputed slot to it), batches (scatter-merge.ts `planBatch`,
 * conditional-batch.ts) and every RESP key command (resp/key-route.ts `targetOf`). A lookup is
 * one array read, so the gate costs nothing while no slot is disputed.
 *
 * Reads are refused with writes: while two nodes each may take writes for a slot, a read answers
 * from one of two possible owners, and may miss a value the other already acknowledged.
 *
 * Readers of many slots ask `readRefusal` with the slots they would read: scans (HTTP `GET /kv`,
 * RESP SCAN, KEYS, DBSIZE; RANDOMKEY leaves the refused stores out) and watches, at their start and, for a running watch, at each
 * heartbeat (watch-hub.ts): a store is read whole, so one disputed slot among its slots refuses it,
 * unless the reader's prefix holds a hash tag (its keys are then in one slot, served or not). The
 * RESP cluster commands leave the refused slots out (`refused`). With nothing disputed, each is
 * one read of `some`.
 */
import { DistkvError } from '../errors.js';
import {
  formatRanges,
  intersectRanges,
  type LeaderRange,
  leaderAt,
  mergeRanges,
  type SlotRange,
} from '../routing/slot-dispute.js';
import type { ShardMap } from '../routing/shard-map.js';
import { prefixSlot, SLOT_COUNT } from '../routing/slot.js';

/** NO_PREFIX is the prefix of a reader of every key of its stores. */
const NO_PREFIX = new Uint8Array(0);

/** PeerDispute is what one peer disputes with this node. */
export interface PeerDispute {
  /** peer is the peer's address. */
  peer: string;
  /** version is the peer's config hash (undefined when its answer carried none). */
  version: string | undefined;
  /** ranges are the disputed slots, in slot order. */
  ranges: SlotRange[];
  /** theirs are the peer's leader ranges (undefined: its answer held none that could be read). */
  theirs: LeaderRange[] | undefined;
  /** mine are this node's leader ranges the dispute was computed against. */
  mine: readonly LeaderRange[];
  /** silent is true when the peer has not answered since it disagreed (the dispute is kept). */
  silent: boolean;
}

/** SlotGate answers whether a slot is refused, and with which error. */
export class SlotGate {
  /** table holds, per slot, 1 + the index in `disputes` of the first peer disputing it; 0 = served. */
  private readonly table = new Uint16Array(SLOT_COUNT);
  private disputes: readonly PeerDispute[] = [];
  /** refusedRanges are every refused slot, merged (those of all disputes). */
  private refusedRanges: readonly SlotRange[] = [];
  /** some is true while at least one slot is refused. */
  some = false;
  private readonly hash: string;

  /** `hash` is this node's config hash (named in refusals). */
  constructor(hash: string) {
    this.hash = hash;
  }

  /** set replaces the disputes (PeerCheck calls it after every check). */
  set(disputes: readonly PeerDispute[]): void {
    this.table.fill(0);
    for (let i = disputes.length - 1; i >= 0; i--)
      for (const r of disputes[i]!.ranges) this.table.fill(i + 1, r.first, r.last + 1);
    this.disputes = disputes;
    this.refusedRanges = mergeRanges(disputes.flatMap((d) => d.ranges));
    this.some = this.refusedRanges.length > 0;
  }

  /** refused returns every refused slot, as sorted disjoint ranges. */
  refused(): readonly SlotRange[] {
    return this.refusedRanges;
  }

  /** list returns the current disputes (those with at least one slot and the others). */
  list(): readonly PeerDispute[] {
    return this.disputes;
  }

  /** disputed tells whether `slot` is refused. */
  disputed(slot: number): boolean {
    return this.table[slot] !== 0;
  }

  /**
   * refusal returns the 503 SLOTS_DISPUTED error for a request on `slot`, naming the peer, both
   * configs' leaders of the slot and every slot disputed with that peer; undefined when served.
   */
  refusal(slot: number): DistkvError | undefined {
    const at = this.table[slot]!;
    if (at === 0) return undefined;
    const d = this.disputes[at - 1]!;
    const theirs = d.theirs === undefined ? 'no readable layout' : (leaderAt(d.theirs, slot) ?? 'no leader');
    return new DistkvError(
      'SLOTS_DISPUTED',
      `slot ${slot} is disputed: node ${d.peer} routes with config ${String(d.version)} (leader of the slot: ${theirs})${d.silent ? ', and has not answered since' : ''}, this node with config ${this.hash} (leader: ${leaderAt(d.mine, slot) ?? 'none'}); slots disputed with ${d.peer}: ${formatRanges(d.ranges)}. Not executed: retry once every node has the same sharding.toml`,
    );
  }

  /**
   * disputedReads returns the refused slots among those the keys under `prefix` in `ranges` may
   * hash to (see readRefusal); without a prefix, every refused slot of `ranges`.
   */
  disputedReads(ranges: readonly SlotRange[], prefix: Uint8Array = NO_PREFIX): SlotRange[] {
    if (!this.some) return [];
    const slot = prefixSlot(prefix);
    if (slot === undefined) return intersectRanges(this.refusedRanges, ranges);
    const inside = ranges.some((r) => r.first <= slot && slot <= r.last);
    return inside ? intersectRanges(this.refusedRanges, [{ first: slot, last: slot }]) : [];
  }

  /**
   * shardsRefusal is `readRefusal` for a reader (`kind`: "scan", "watch") of the whole `shards` of
   * `shardMap`; with nothing disputed it builds nothing (it runs on every scan and watch start).
   */
  shardsRefusal(
    kind: string,
    shardMap: ShardMap,
    shards: readonly number[],
    prefix: Uint8Array,
  ): DistkvError | undefined {
    if (!this.some) return undefined;
    return this.readRefusal(
      `the ${kind} of shard${shards.length === 1 ? '' : 's'} ${shards.join(', ')}`,
      shards.map((s) => shardMap.shard(s).slots),
      prefix,
    );
  }

  /**
   * readRefusal returns the 503 SLOTS_DISPUTED error for `what` (e.g. "the scan of shards 1, 2"), a
   * reader of the keys under `prefix` in the slots `ranges` (the stores it reads), when one of the
   * slots those keys may hash to is refused; undefined when it reads none. A prefix holding a hash
   * tag reads one slot (routing/slot.ts, prefixSlot).
   */
  readRefusal(what: string, ranges: readonly SlotRange[], prefix: Uint8Array): DistkvError | undefined {
    const slots = this.disputedReads(ranges, prefix);
    if (slots.length === 0) return undefined;
    const peers = this.disputes.flatMap((d) => {
      const theirs = intersectRanges(d.ranges, slots);
      return theirs.length === 0
        ? []
        : [
            `node ${d.peer} (config ${String(d.version)}${d.silent ? ', not answering since' : ''}) disputes ${formatRanges(theirs)}`,
          ];
    });
    return new DistkvError(
      'SLOTS_DISPUTED',
      `${what} would read slots ${formatRanges(slots)}, whose leader another node's config names differently (${peers.join('; ')}; this node routes with config ${this.hash}): it could miss writes the other leader took. Not executed: retry once every node has the same sharding.toml`,
    );
  }
}
