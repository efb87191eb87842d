/**
 * Epoch numbers (docs/failover.md, "Epoch numbers"): which number a new epoch of a shard gets.
 *
 * Without a coordinator, epochs are chosen apart: a leader restarting alone after an unclean stop
 * (src/server/restart-epochs.ts) and a forced failover made meanwhile (src/cli/failover.ts) both
 * start an epoch from the same history. With `epoch + 1` both got the same number, and a key
 * version `E.S` (or a watch cursor) the restarted leader gave out in its lost epoch named the
 * winner's record at seq S: a conditional write holding it matched a record it never saw.
 *
 * So a new epoch carries the identity of the node that leads it:
 *
 *   next := (floor(above / EPOCH_STRIDE) + 1) * EPOCH_STRIDE + member
 *
 * where `above` is the highest epoch number the choosing map knows for the shard (its epoch, or
 * the `floor` a merge left: the highest a dropped line reached; with etcd, also the campaign's key
 * revision; a failover also reads every member's map, the target's included) and `member`
 * is the leader's index among the shard's members in address order (members never change: that
 * is a config change, and MAX_SHARD_MEMBERS bounds them). So `next > above` (epochs still order by
 * number), `next mod EPOCH_STRIDE` names its leader, and two nodes choosing from the same base
 * never pick the same number. Every epoch a node leads is chosen from its own map (a restart) or
 * with its map read (a failover to it), and a node's highest never goes down (checkSuccessor
 * refuses a map that forgets it; a merge keeps the higher floor): a node's own picks only rise. Epochs of older data (1, 2, 3 from
 * `epoch + 1`, etcd revisions) stay valid: the rule only needs the next one to be higher.
 *
 * Bound: epochs are u32 everywhere they are written (commit-log frames, WAL headers, watch
 * binary frames, `E.S` parsing): MAX_EPOCH. At 64 numbers per epoch that is 67 million epochs.
 */
import { DistkvError } from '../errors.js';
import type { LiveShard } from './live-map.js';

/** EPOCH_STRIDE is how many numbers each new epoch advances by at least: one per possible member. */
export const EPOCH_STRIDE = 64;

/** MAX_SHARD_MEMBERS is the most members (leader + replicas) a shard may have: one residue each. */
export const MAX_SHARD_MEMBERS = EPOCH_STRIDE;

/** MAX_EPOCH is the highest epoch any format can hold (u32). */
export const MAX_EPOCH = 0xffffffff;

/** highestEpoch is the highest epoch number shard entry `s` knows of: its epoch or its floor. */
export function highestEpoch(s: Pick<LiveShard, 'epoch' | 'floor'>): number {
  return Math.max(s.epoch, s.floor ?? 0);
}

/** memberIndex is `node`'s index among shard `s`'s members in address order, or -1. */
export function memberIndex(s: Pick<LiveShard, 'leader' | 'replicas'>, node: string): number {
  return [s.leader, ...s.replicas].sort().indexOf(node);
}

/**
 * nextEpoch is the epoch `leader` starts in shard `s`: the first number above `s`'s highest
 * (`highestEpoch`) and `floor` (etcd's key revision; the highest any member's map names) in the
 * next block of EPOCH_STRIDE whose remainder is the leader's member index. Throws
 * INVALID_ARGUMENT for a node that is not a member, and UNAVAILABLE when the number would not
 * fit in u32.
 */
export function nextEpoch(
  s: Pick<LiveShard, 'name' | 'leader' | 'replicas' | 'epoch' | 'floor'>,
  leader: string,
  floor = 0,
): number {
  const member = memberIndex(s, leader);
  if (member < 0) throw new DistkvError('INVALID_ARGUMENT', `${leader} is not a member of ${s.name}`);
  const above = Math.max(highestEpoch(s), floor);
  const next = (Math.floor(above / EPOCH_STRIDE) + 1) * EPOCH_STRIDE + member;
  if (next > MAX_EPOCH)
    throw new DistkvError(
      'UNAVAILABLE',
      `${s.name}: epoch ${next} would not fit in 32 bits (the highest is ${MAX_EPOCH}); its epochs are used up`,
    );
  return next;
}
