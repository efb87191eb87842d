/**
 * A seeded model test of live maps made apart without a coordinator (src/routing/map-merge.ts,
 * docs/failover.md): three nodes, two shards; at random, a leader restarts alone after an unclean
 * stop (restartedMap), an operator fails a shard over from some node's view (promotedMap, posted to
 * that node and the target), and nodes offer each other their maps (`adoption`, what MapKeeper does
 * with a peer's map). Checked at every adoption: a node's version only goes up, and a shard entry
 * it held is replaced by one that does not extend it only with a fork below every start either
 * line made after their common history. Checked at the end, after gossip until nothing changes:
 * two nodes hold different maps only where two changes of leader were made apart (the conflict
 * an operator must settle), never two maps of one version otherwise, and never two leaders of a
 * shard between nodes that agree. And every epoch start that its leader took (a restart; a
 * failover its target adopted) has a number no other such start has: a key version `E.S` given out
 * in an epoch that lost must not name a record of the one that won (src/routing/epoch-numbers.ts).
 * A failure prints DISTKV_SEED.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type EpochStart,
  initialLiveMap,
  type LiveMap,
  type LiveShard,
  promotedMap,
} from '../../src/routing/live-map.js';
import { highestEpoch, nextEpoch } from '../../src/routing/epoch-numbers.js';
import { adoption } from '../../src/routing/map-merge.js';
import { restartedMap } from '../../src/server/restart-epochs.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const NODES = ['n0:1', 'n1:1', 'n2:1'];
const CONFIG = [
  { idx: 0, name: 'shard-0', slots: { first: 0, last: 8191 }, address: 'n0:1', replicas: ['n1:1', 'n2:1'] },
  {
    idx: 1,
    name: 'shard-1',
    slots: { first: 8192, last: 16383 },
    address: 'n1:1',
    replicas: ['n0:1', 'n2:1'],
  },
];

/** lastStart is the seq before which a shard entry's current epoch started (0 when none). */
function lastStart(s: LiveShard): number {
  return s.history.at(-1)?.firstSeq ?? 1;
}

/** sameEntry is the model's own test of one history entry (a restart and a failover with the same numbers differ). */
function sameEntry(a: EpochStart, b: EpochStart): boolean {
  return a.epoch === b.epoch && a.firstSeq === b.firstSeq && a.restart === b.restart;
}

/** suffixes returns what each history holds after their common entries. */
function suffixes(a: LiveShard, b: LiveShard): [EpochStart[], EpochStart[]] {
  let c = 0;
  while (c < a.history.length && c < b.history.length && sameEntry(a.history[c]!, b.history[c]!)) c++;
  return [a.history.slice(c), b.history.slice(c)];
}

/** genuine tells whether two entries of a shard conflict in a way only an operator settles (two changes made apart). */
function genuine(a: LiveShard, b: LiveShard): boolean {
  if (JSON.stringify(a) === JSON.stringify(b)) return false;
  const [sa, sb] = suffixes(a, b);
  if (sa.length === 0 || sb.length === 0) return sa.length === sb.length; // one extends the other, or same history
  const restartsOnly = (s: EpochStart[]) => s.every((h) => h.restart === true);
  return restartsOnly(sa) === restartsOnly(sb);
}

function run(seed: number): void {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const maps = new Map(NODES.map((n) => [n, initialLiveMap(CONFIG)]));
  // Every start its leader took, by shard and epoch number: `leader@firstSeq`.
  const starts = new Map<string, string>();
  const took = (map: LiveMap, idx: number): void => {
    const s = map.shards[idx]!;
    const h = s.history.at(-1)!;
    const key = `shard ${idx} epoch ${h.epoch}`;
    const start = `${s.leader}@${h.firstSeq}${h.restart === true ? ' (restart)' : ''}`;
    const other = starts.get(key);
    assert.ok(other === undefined || other === start, `${key} started twice: ${other} and ${start}`);
    starts.set(key, start);
  };
  const offer = (to: string, map: LiveMap): boolean => {
    const mine = maps.get(to)!;
    let taken;
    try {
      taken = adoption(mine, map);
    } catch {
      return false; // refused as no successor: logged by the node, its peer merges instead
    }
    if (taken === undefined) return false;
    assert.ok(taken.map.version > mine.version, `${to}: version ${mine.version} → ${taken.map.version}`);
    for (const s of taken.map.shards) {
      const old = mine.shards[s.idx]!;
      const fork = taken.rewritten.get(s.idx);
      const [so, sn] = suffixes(old, s);
      if (so.length === 0) {
        assert.equal(fork, undefined, `${to}: shard ${s.idx} extended, not rewritten`);
        continue;
      }
      assert.ok(
        fork !== undefined,
        `${to}: shard ${s.idx} lost entries ${JSON.stringify(so)} without a fork`,
      );
      for (const h of [...so, ...sn])
        assert.ok(fork < h.firstSeq, `${to}: fork ${fork} not below ${h.firstSeq}`);
    }
    maps.set(to, taken.map);
    return true;
  };
  for (let step = 0; step < 60; step++) {
    const r = rnd();
    if (r < 0.55) {
      const from = pick(NODES);
      offer(pick(NODES.filter((n) => n !== from)), maps.get(from)!);
    } else if (r < 0.8) {
      // A node restarts alone after an unclean stop: each shard it leads starts a new epoch.
      const node = pick(NODES);
      const map = maps.get(node)!;
      const lasts = new Map<number, number>();
      for (const s of map.shards)
        if (s.leader === node) lasts.set(s.idx, lastStart(s) - 1 + Math.floor(rnd() * 4));
      if (lasts.size > 0) {
        const next = restartedMap(map, lasts);
        maps.set(node, next);
        for (const idx of lasts.keys()) took(next, idx);
      }
    } else {
      // An operator fails a shard over from one node's view; the map goes to that node and the target.
      const via = pick(NODES);
      const s = pick(maps.get(via)!.shards);
      const target = pick(s.replicas);
      const next = promotedMap(
        maps.get(via)!,
        s.idx,
        target,
        // The command reads every member's map, the target's among them.
        nextEpoch(s, target, highestEpoch(maps.get(target)!.shards[s.idx]!)),
        lastStart(s) - 1 + Math.floor(rnd() * 4),
      );
      const epoch = next.shards[s.idx]!.epoch;
      if (offer(target, next)) {
        const held = maps.get(target)!.shards[s.idx]!;
        if (held.leader === target && held.epoch === epoch) took(maps.get(target)!, s.idx);
        if (via !== target) offer(via, next);
      }
    }
  }
  // Gossip until nothing changes.
  for (let round = 0; round < 50; round++) {
    let changed = false;
    for (const from of NODES)
      for (const to of NODES) if (from !== to && offer(to, maps.get(from)!)) changed = true;
    if (!changed) break;
  }
  for (const a of NODES)
    for (const b of NODES) {
      if (a >= b) continue;
      const [ma, mb] = [maps.get(a)!, maps.get(b)!];
      if (JSON.stringify(ma) === JSON.stringify(mb)) continue;
      const conflicts = ma.shards.filter((s) => genuine(s, mb.shards[s.idx]!));
      assert.ok(
        conflicts.length > 0,
        `${a} and ${b} hold different maps with no conflict an operator must settle:\n${JSON.stringify(ma)}\n${JSON.stringify(mb)}`,
      );
    }
}

describe('live maps made apart without a coordinator (seeded model)', () => {
  it('converge, moving forward, unless two changes of leader were made apart', () => {
    const base = testSeed();
    for (let i = 0; i < 300; i++) {
      const seed = (base + i) >>> 0;
      try {
        run(seed);
      } catch (err) {
        (err as Error).message += ` (DISTKV_SEED=${seed})`;
        throw err;
      }
    }
  });
});
