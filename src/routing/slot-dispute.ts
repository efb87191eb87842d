/**
 * Slot disputes: the slots whose leader two nodes' configs name differently (docs/operations.md,
 * "When the nodes disagree about the config").
 *
 * Two nodes routing with different sharding.toml files each take the writes of the slots their own
 * file makes them lead: a slot the two files give different leaders would have its keys written on
 * both and split silently. Such a slot is disputed; a node refuses the requests of every slot it
 * disputes with a peer (src/server/slot-gate.ts). A slot both files give the same leader is served
 * as usual, so a rolling change of the file makes only the slots that move unavailable.
 *
 * Pure functions of two layouts, each a list of leader ranges: this node's (its config's slot
 * ranges with the live map's leaders) and a peer's, read from its `/cluster` answer
 * (`shards[].slots` and `shards[].leader.address`). A slot a layout leaves out has no leader there,
 * which differs from any leader: disputed.
 */
import type { ShardInfo } from './shard-map.js';
import { SLOT_COUNT } from './slot.js';

/** SlotRange is the slots first..last (inclusive). */
export interface SlotRange {
  first: number;
  last: number;
}

/** LeaderRange says that `leader` (a node address) leads the slots first..last. */
export interface LeaderRange extends SlotRange {
  leader: string;
}

/** layoutOfShards is the leader ranges of a shard list (a ShardMap's, or the live map's shards). */
export function layoutOfShards(shards: readonly ShardInfo[]): LeaderRange[] {
  return shards.map((s) => ({ first: s.slots.first, last: s.slots.last, leader: s.address }));
}

function isSlot(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < SLOT_COUNT;
}

/**
 * layoutOfCluster reads the leader ranges of a `/cluster` answer (`shards[]` with `slots: [first,
 * last]` and `leader.address`), sorted by slot, or returns undefined when they are missing, out of
 * 0..16383, or overlap: a layout that cannot be read says nothing about which slots agree.
 */
export function layoutOfCluster(doc: unknown): LeaderRange[] | undefined {
  const shards = (doc as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return undefined;
  const ranges: LeaderRange[] = [];
  for (const s of shards as unknown[]) {
    const { slots, leader } = (s ?? {}) as { slots?: unknown; leader?: { address?: unknown } };
    if (!Array.isArray(slots) || slots.length !== 2) return undefined;
    const [first, last] = slots as unknown[];
    const address = leader?.address;
    if (!isSlot(first) || !isSlot(last) || first > last || typeof address !== 'string') return undefined;
    ranges.push({ first, last, leader: address });
  }
  ranges.sort((a, b) => a.first - b.first);
  for (let i = 1; i < ranges.length; i++) if (ranges[i]!.first <= ranges[i - 1]!.last) return undefined;
  return ranges;
}

/** leaderAt returns the leader of `slot` in `layout`, or undefined when no range holds it. */
export function leaderAt(layout: readonly LeaderRange[], slot: number): string | undefined {
  return layout.find((r) => r.first <= slot && slot <= r.last)?.leader;
}

/**
 * disputedRanges returns the slots whose leader differs between `mine` and `theirs` (a slot that
 * one of them leaves out counts as differing), as ranges in slot order, adjacent ones merged.
 * Neither layout may overlap itself (layoutOfCluster and a ShardMap refuse that).
 */
export function disputedRanges(mine: readonly LeaderRange[], theirs: readonly LeaderRange[]): SlotRange[] {
  const a = [...mine].sort((x, y) => x.first - y.first);
  const b = [...theirs].sort((x, y) => x.first - y.first);
  // Every slot where either layout's leader may change starts a segment of constant leaders.
  const cuts = new Set<number>([0]);
  for (const r of [...a, ...b]) {
    cuts.add(r.first);
    if (r.last + 1 < SLOT_COUNT) cuts.add(r.last + 1);
  }
  const starts = [...cuts].sort((x, y) => x - y);
  const out: SlotRange[] = [];
  let ia = 0;
  let ib = 0;
  for (let k = 0; k < starts.length; k++) {
    const first = starts[k]!;
    const last = (starts[k + 1] ?? SLOT_COUNT) - 1;
    while (ia < a.length && a[ia]!.last < first) ia++;
    while (ib < b.length && b[ib]!.last < first) ib++;
    const ra = a[ia];
    const rb = b[ib];
    const la = ra !== undefined && ra.first <= first ? ra.leader : undefined;
    const lb = rb !== undefined && rb.first <= first ? rb.leader : undefined;
    if (la !== undefined && la === lb) continue;
    const prev = out[out.length - 1];
    if (prev?.last === first - 1) prev.last = last;
    else out.push({ first, last });
  }
  return out;
}

/** slotCount is the number of slots `ranges` hold. */
export function slotCount(ranges: readonly SlotRange[]): number {
  return ranges.reduce((n, r) => n + r.last - r.first + 1, 0);
}

/** formatRanges writes ranges as `first-last` (or one slot as `slot`), comma-separated. */
export function formatRanges(ranges: readonly SlotRange[]): string {
  return ranges.map((r) => (r.first === r.last ? String(r.first) : `${r.first}-${r.last}`)).join(',');
}

/** mergeRanges returns the slots of `ranges` (in any order, possibly overlapping) as sorted disjoint ranges, adjacent ones merged. */
export function mergeRanges(ranges: readonly SlotRange[]): SlotRange[] {
  const out: SlotRange[] = [];
  for (const r of [...ranges].sort((x, y) => x.first - y.first)) {
    const prev = out[out.length - 1];
    if (prev !== undefined && r.first <= prev.last + 1) prev.last = Math.max(prev.last, r.last);
    else out.push({ first: r.first, last: r.last });
  }
  return out;
}

/** intersectRanges returns the slots both `a` and `b` hold, as mergeRanges writes them. */
export function intersectRanges(a: readonly SlotRange[], b: readonly SlotRange[]): SlotRange[] {
  const x = mergeRanges(a);
  const y = mergeRanges(b);
  const out: SlotRange[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const first = Math.max(x[i]!.first, y[j]!.first);
    const last = Math.min(x[i]!.last, y[j]!.last);
    if (first <= last) out.push({ first, last });
    if (x[i]!.last < y[j]!.last) i++;
    else j++;
  }
  return mergeRanges(out);
}

/** subtractRanges returns the slots of `a` that `b` does not hold, as mergeRanges writes them. */
export function subtractRanges(a: readonly SlotRange[], b: readonly SlotRange[]): SlotRange[] {
  const cut = mergeRanges(b);
  const out: SlotRange[] = [];
  for (const r of mergeRanges(a)) {
    let first = r.first;
    for (const c of cut) {
      if (c.last < first || c.first > r.last) continue;
      if (c.first > first) out.push({ first, last: c.first - 1 });
      first = c.last + 1;
    }
    if (first <= r.last) out.push({ first, last: r.last });
  }
  return out;
}

/** parseRanges reads what formatRanges writes (`first-last` or `slot`, comma-separated); undefined when it is not that. */
export function parseRanges(text: string): SlotRange[] | undefined {
  const out: SlotRange[] = [];
  for (const item of text.split(',')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item);
    if (m === null) return undefined;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (!isSlot(first) || !isSlot(last) || first > last) return undefined;
    out.push({ first, last });
  }
  return out;
}
