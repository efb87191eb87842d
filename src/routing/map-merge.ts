/**
 * Map merging: what a node without a coordinator does with a live map a peer offers it
 * (src/server/map-keeper.ts; docs/failover.md, "A leader restarting after a crash").
 *
 * Maps are ordered by version, and a map with a higher version replaces one it succeeds
 * (`checkSuccessor`). Without a coordinator, maps can also be made apart: leaders restarting after
 * an unclean stop raise their shards' epochs on their own (src/server/restart-epochs.ts), and a
 * forced failover may be made while the old leader, restarting, reaches no peer. `mergedMap`
 * reconciles two such maps shard by shard; `adoption` is the whole decision. Invariants: both
 * sides of a merge compute the same map (the rule is symmetric and the version is above both), so
 * the nodes converge; a shard entry is replaced by one that does not extend it only when it holds
 * only restart epochs and the other a change of leader, and then with the seq its stores fork at.
 */
import { highestEpoch } from './epoch-numbers.js';
import { checkSuccessor, type EpochStart, type LiveMap, type LiveShard, sameStart } from './live-map.js';

/** sameShard tells whether two entries of one shard are equal. */
export function sameShard(a: LiveShard, b: LiveShard): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** sameShards tells whether two maps hold equal entries for every shard (whatever their versions). */
export function sameShards(a: LiveMap, b: LiveMap): boolean {
  return (
    a.shards.length === b.shards.length &&
    a.shards.every((s) => {
      const t = b.shards.find((x) => x.idx === s.idx);
      return t !== undefined && sameShard(s, t);
    })
  );
}

/** sameLine tells whether two entries of one shard are equal but for their floors. */
function sameLine(a: LiveShard, b: LiveShard): boolean {
  return sameShard(withFloor(a, 0), withFloor(b, 0));
}

/**
 * withFloor is entry `s` with `floor` as its floor when that is above its epoch (else none), its
 * keys in the order parseLiveMap gives them: entries are compared as JSON text.
 */
function withFloor(s: LiveShard, floor: number): LiveShard {
  return {
    idx: s.idx,
    name: s.name,
    leader: s.leader,
    replicas: s.replicas,
    epoch: s.epoch,
    history: s.history,
    ...(floor > s.epoch ? { floor } : {}),
  };
}

/** extendsShard tells whether entry `a` is `b` plus later epochs (its history starts with all of `b`'s). */
function extendsShard(a: LiveShard, b: LiveShard): boolean {
  return (
    a.epoch > b.epoch &&
    a.history.length > b.history.length &&
    b.history.every((h, i) => sameStart(a.history[i], h))
  );
}

/** commonLength is how many history entries two entries of one shard share from the start. */
function commonLength(a: LiveShard, b: LiveShard): number {
  let i = 0;
  while (i < a.history.length && i < b.history.length && sameStart(a.history[i], b.history[i]!)) i++;
  return i;
}

/** onlyRestarts tells whether `history` from `from` on is not empty and holds only restart epochs. */
function onlyRestarts(history: readonly EpochStart[], from: number): boolean {
  return history.length > from && history.slice(from).every((h) => h.restart === true);
}

/**
 * divergedAt is the seq above which two conflicting entries' lines may differ: below the first
 * start either made after their common history (the lowest of them), both hold the same records.
 */
function divergedAt(a: LiveShard, b: LiveShard): number {
  const c = commonLength(a, b);
  const starts = [...a.history.slice(c), ...b.history.slice(c)].map((h) => h.firstSeq);
  return Math.min(...starts) - 1;
}

/**
 * changeBeatsRestart settles a conflict between two entries of one shard, each changed without the
 * other since their common history: when one side's new epochs are all restarts of its leader
 * (made alone after an unclean stop, with no peer answering) and the other's include a change of
 * leader (a failover made while that leader was down), the change wins. Its leader took writes
 * acknowledged by replicas that followed it; the restarted leader's epochs could only take what it
 * recovered plus writes of its own, which its stores cut above the fork into a divergence file.
 * Undefined when the rule does not decide (two changes, or two restarts).
 */
function changeBeatsRestart(mine: LiveShard, theirs: LiveShard): 'mine' | 'theirs' | undefined {
  const c = commonLength(mine, theirs);
  const mineRestarts = onlyRestarts(mine.history, c);
  const theirsRestarts = onlyRestarts(theirs.history, c);
  if (mineRestarts && !theirsRestarts && theirs.history.length > c) return 'theirs';
  if (theirsRestarts && !mineRestarts && mine.history.length > c) return 'mine';
  return undefined;
}

/** MapMerge is a merged map and, per shard whose entry here a leader change replaced, the seq its stores fork at. */
export interface MapMerge {
  map: LiveMap;
  forks: ReadonlyMap<number, number>;
}

/**
 * mergedMap reconciles `mine` with `theirs`, a map no newer, made without seeing `mine`: without a
 * coordinator, leaders restarting after an unclean stop each raise the epochs of the shards they
 * lead on their own (src/server/restart-epochs.ts), and two such maps may share a version. Shard by
 * shard it keeps the entry that extends the other, or, where each changed it without the other,
 * the one with a change of leader over one with only restart epochs (`changeBeatsRestart`: a
 * failover while the old leader, restarting after a crash, reached no peer; before, both led the
 * shard in the same epoch until an operator's failover). The result's version is above both, so
 * every node that merges the same two computes the same map and the merges converge. Undefined
 * when `theirs` gains `mine` nothing, or when a shard's entries conflict otherwise (two failovers
 * made apart): that needs an operator's failover, which publishes a newer map. Each entry keeps
 * the highest epoch number either side reached as its `floor` (when above its epoch). `forks` names each
 * shard whose entry of `mine` was replaced, with the seq above which its stores here hold records
 * of the losing line.
 */
export function mergedMap(mine: LiveMap, theirs: LiveMap): MapMerge | undefined {
  let gained = false;
  const shards: LiveShard[] = [];
  const forks = new Map<number, number>();
  for (const m of mine.shards) {
    const t = theirs.shards.find((s) => s.idx === m.idx);
    if (t === undefined) {
      shards.push(m);
      continue;
    }
    let chosen: LiveShard;
    if (sameLine(m, t) || extendsShard(m, t)) chosen = m;
    else if (extendsShard(t, m)) chosen = t;
    else {
      const winner = changeBeatsRestart(m, t);
      if (winner === undefined) return undefined;
      chosen = winner === 'mine' ? m : t;
      if (winner === 'theirs') forks.set(m.idx, divergedAt(m, t));
    }
    // The merge keeps the highest number either side reached, kept line or dropped: the next
    // epoch goes above it (epoch-numbers.ts), so no number a lost epoch gave out comes back.
    const entry = withFloor(chosen, Math.max(highestEpoch(m), highestEpoch(t)));
    if (!sameShard(entry, m)) gained = true;
    shards.push(entry);
  }
  return gained ? { map: { version: Math.max(mine.version, theirs.version) + 1, shards }, forks } : undefined;
}

/** Adoption is a map a node takes and, per shard whose entry a leader change replaced, the seq its stores fork at. */
export interface Adoption {
  map: LiveMap;
  rewritten: ReadonlyMap<number, number>;
}

/** isSuccessor tells whether `next` may replace `current` (checkSuccessor does not throw). */
function isSuccessor(current: LiveMap, next: LiveMap): boolean {
  try {
    checkSuccessor(current, next);
    return true;
  } catch {
    return false;
  }
}

/**
 * adoption decides what a node holding `current` does with `offered` (no coordinator): a newer
 * successor is taken as it is; a map no newer, or a newer one that is no successor, is merged
 * when it gains something (`mergedMap`). Undefined when a map no newer gains nothing or conflicts;
 * throws INVALID_ARGUMENT (checkSuccessor's reasons) for a newer map that can be neither.
 */
export function adoption(current: LiveMap, offered: LiveMap): Adoption | undefined {
  if (offered.version > current.version && isSuccessor(current, offered))
    return { map: offered, rewritten: new Map() };
  const merged = mergedMap(current, offered);
  if (merged !== undefined) {
    checkSuccessor(current, merged.map, merged.forks);
    return { map: merged.map, rewritten: merged.forks };
  }
  if (offered.version <= current.version) return undefined;
  checkSuccessor(current, offered);
  return { map: offered, rewritten: new Map() };
}
