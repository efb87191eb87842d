/**
 * LiveMap: who leads each shard right now (docs/failover.md).
 *
 * `sharding.toml` is the initial map: version 1, every shard's leader as configured, epoch 0. A
 * failover publishes a map with a higher `version` in which one shard has another leader (one of its
 * configured members) and a higher `epoch`. Every node persists the map it routes with, serves it in
 * `/cluster`, sends its version in the `X-Distkv-Map` header of redirects and held writes (for
 * clients), and adopts any valid map with a higher version its peer checks of `/cluster` find or
 * `POST /_admin/map` offers. Invariants a valid map keeps against its
 * config: the same shards (idx, name), every shard's members (leader + replicas) are exactly the
 * configured members, the leader is not among the replicas, epochs never go down.
 *
 * Each shard carries its epoch history (docs/wal-format.md, "Epoch history"): for every epoch after
 * 0, `firstSeq`, the seq of the first record its leader wrote (the leader held firstSeq - 1 records
 * when it was promoted: the fork point). A store that last knew epoch e holds, above the fork point
 * of the first epoch after e, only records that no later leader has: they are cut (saved to a
 * divergence file) before it follows the new leader (docs/failover.md).
 */
import { DistkvError } from '../errors.js';
import { highestEpoch, MAX_EPOCH } from './epoch-numbers.js';
import type { ShardInfo } from './shard-map.js';

/** MAP_HEADER carries the sender's live map version on redirects and node-to-node requests. */
export const MAP_HEADER = 'X-Distkv-Map';

/** LiveShard is one shard's entry of the live map. */
export interface LiveShard {
  idx: number;
  name: string;
  leader: string;
  replicas: string[];
  /** epoch is the leader's term: raised by every change of leader, never lowered. */
  epoch: number;
  /** history lists, oldest first, each epoch after 0 with the seq its leader started from (exclusive). */
  history: EpochStart[];
  /**
   * floor, when present, is the highest epoch number a line this entry's merge dropped had reached
   * (`mergedMap`, map-merge.ts): the next epoch is chosen above it too (`nextEpoch`,
   * epoch-numbers.ts), so no number given out in a lost epoch is given again. Absent: the epoch.
   */
  floor?: number;
}

/** EpochStart says epoch `epoch` began at seq `firstSeq` (its leader's first own record). */
export interface EpochStart {
  epoch: number;
  firstSeq: number;
  /**
   * restart marks an epoch that its leader, unchanged, started on its own after an unclean stop
   * (src/server/restart-epochs.ts), not a change of leader: in a conflict, a change beats it
   * (`mergedMap`, map-merge.ts).
   */
  restart?: true;
}

/**
 * historyLine returns the epochs of `history` whose records are on the current leader's line: an
 * epoch that a later one starts at or below has none (its leader's records were never followed
 * by the later leader, which started from an older position, e.g. a promoted leader that failed
 * before any replica copied it, then a less advanced replica promoted after it). Every lookup
 * reads this line: the history is otherwise in epoch order with starts that may go down.
 */
export function historyLine(history: readonly EpochStart[]): readonly EpochStart[] {
  if (history.length < 2) return history;
  const line: EpochStart[] = [];
  let lowest = Number.POSITIVE_INFINITY;
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i]!;
    if (h.firstSeq < lowest) {
      line.push(h);
      lowest = h.firstSeq;
    }
  }
  return line.reverse();
}

/** forkSeq returns the seq above which a store that last knew epoch `known` holds records no later leader has (undefined: none). */
export function forkSeq(shard: LiveShard, known: number): number | undefined {
  const next = historyLine(shard.history).find((h) => h.epoch > known);
  return next === undefined ? undefined : next.firstSeq - 1;
}

/**
 * MAX_MAP_VERSION is the highest version a map may carry (2^52). Every later map, a failover's or a
 * restart's, takes the next version, so a map posted at 2^53 - 1 (the largest safe integer) left no
 * successor: every failover was refused and a leader restarting after an unclean stop could not
 * make its new epoch and did not start (test/e2e/hostile-internal-clients.test.ts). Below 2^52
 * there are 2^52 successors left, more than any cluster makes.
 */
export const MAX_MAP_VERSION = 2 ** 52;

/** LiveMap is the versioned map of shard leaders. */
export interface LiveMap {
  version: number;
  shards: LiveShard[];
}

/**
 * promotedMap is `base`'s successor (version + 1) in which `leader`, a member of shard `idx`, leads
 * it in `epoch` from seq `lastSeq + 1` (the last seq its held store answered: the fork point), and
 * the former leader is a replica.
 */
export function promotedMap(
  base: LiveMap,
  idx: number,
  leader: string,
  epoch: number,
  lastSeq: number,
): LiveMap {
  return {
    version: base.version + 1,
    shards: base.shards.map((s) => {
      if (s.idx !== idx) return s;
      // A floor the new epoch passed says nothing more.
      const { floor, ...rest } = s;
      return {
        ...rest,
        leader,
        replicas: [s.leader, ...s.replicas].filter((m) => m !== leader),
        epoch,
        history: [...s.history, { epoch, firstSeq: lastSeq + 1 }],
        ...(floor !== undefined && floor > epoch ? { floor } : {}),
      };
    }),
  };
}

/** initialLiveMap is the map a config describes: version 1, epoch 0 everywhere. */
export function initialLiveMap(shards: readonly ShardInfo[]): LiveMap {
  return {
    version: 1,
    shards: [...shards]
      .sort((a, b) => a.idx - b.idx)
      .map((s) => ({
        idx: s.idx,
        name: s.name,
        leader: s.address,
        replicas: [...s.replicas],
        epoch: 0,
        history: [],
      })),
  };
}

/** liveShardInfos applies a live map to the configured shards: same slots, leader and replicas from the map. */
export function liveShardInfos(config: readonly ShardInfo[], map: LiveMap): ShardInfo[] {
  return config.map((s) => {
    const live = map.shards.find((l) => l.idx === s.idx);
    return live === undefined ? s : { ...s, address: live.leader, replicas: [...live.replicas] };
  });
}

/** isEpoch tells whether `v` is an epoch number every format can hold (0..MAX_EPOCH). */
function isEpoch(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_EPOCH;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function isHistory(v: unknown): v is EpochStart[] {
  return (
    Array.isArray(v) &&
    v.every((h) => {
      const e = h as (Partial<Omit<EpochStart, 'restart'>> & { restart?: unknown }) | null;
      return (
        typeof e === 'object' &&
        e !== null &&
        isEpoch(e.epoch) &&
        Number.isSafeInteger(e.firstSeq) &&
        (e.firstSeq ?? 0) >= 1 &&
        (e.restart === undefined || e.restart === true)
      );
    })
  );
}

/**
 * historyDisorder says what is wrong with the order of a shard's history against its `epoch`
 * (undefined: nothing): epochs rise strictly from 1, and the last one is the shard's epoch. Every
 * map this code makes keeps that order (`promotedMap`, `mergedMap`); one out of order (a hand edit,
 * a bug, a hostile `POST /_admin/map`) would give forks and key versions' epochs from the wrong entry.
 */
function historyDisorder(history: readonly EpochStart[], epoch: number): string | undefined {
  if (history.length === 0 && epoch > 0)
    return `is empty, but epoch ${epoch} needs its start (every epoch after 0 is listed with its first seq)`;
  let prev = 0;
  for (const [i, h] of history.entries()) {
    if (h.epoch <= prev)
      return `must list epochs in rising order from 1: entry ${i} has epoch ${h.epoch} after ${prev}`;
    prev = h.epoch;
  }
  if (history.length > 0 && prev !== epoch)
    return `must end with the shard's epoch ${epoch}, its last entry has epoch ${prev}`;
  return undefined;
}

/**
 * parseLiveMap checks an untrusted document against the config's shards and returns it as a LiveMap;
 * it throws INVALID_ARGUMENT listing every problem.
 */
export function parseLiveMap(doc: unknown, config: readonly ShardInfo[]): LiveMap {
  const problems: string[] = [];
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as { version?: unknown; shards?: unknown };
  if (typeof d.version !== 'number' || !Number.isSafeInteger(d.version) || d.version < 1)
    problems.push(`version must be an integer >= 1, got ${JSON.stringify(d.version)}`);
  else if (d.version > MAX_MAP_VERSION)
    problems.push(
      `version must be at most ${MAX_MAP_VERSION} (2^52: every later map, a failover's or a restart's, takes the next one), got ${d.version}`,
    );
  const shards: LiveShard[] = [];
  if (!Array.isArray(d.shards) || d.shards.length !== config.length) {
    problems.push(`shards must list the ${config.length} shards of the config`);
  } else {
    for (const c of config) {
      const s = (d.shards as unknown[]).find(
        (x) => typeof x === 'object' && x !== null && (x as { idx?: unknown }).idx === c.idx,
      ) as Partial<Record<keyof LiveShard, unknown>> | undefined;
      const at = `shards[idx=${c.idx}]`;
      if (s === undefined) {
        problems.push(`${at}: missing`);
        continue;
      }
      const members = new Set([c.address, ...c.replicas]);
      if (s.name !== c.name) problems.push(`${at}.name must be ${c.name}, got ${JSON.stringify(s.name)}`);
      if (!isEpoch(s.epoch))
        problems.push(`${at}.epoch must be an integer 0..${MAX_EPOCH}, got ${JSON.stringify(s.epoch)}`);
      if (s.floor !== undefined && !isEpoch(s.floor))
        problems.push(`${at}.floor must be an integer 0..${MAX_EPOCH}, got ${JSON.stringify(s.floor)}`);
      if (typeof s.leader !== 'string' || !members.has(s.leader))
        problems.push(
          `${at}.leader must be one of ${[...members].join(', ')}, got ${JSON.stringify(s.leader)}`,
        );
      if (!isStringArray(s.replicas)) {
        problems.push(`${at}.replicas must be a list of addresses`);
        continue;
      }
      const listed = new Set([s.leader, ...s.replicas]);
      if (
        listed.size !== members.size ||
        s.replicas.length !== members.size - 1 ||
        ![...listed].every((m) => members.has(m as string))
      )
        problems.push(
          `${at}: leader and replicas must be exactly the configured members ${[...members].join(', ')}`,
        );
      const history = s.history ?? [];
      if (!isHistory(history)) problems.push(`${at}.history must be a list of {epoch, firstSeq} integers`);
      else if (typeof s.epoch === 'number') {
        const disorder = historyDisorder(history, s.epoch);
        if (disorder !== undefined) problems.push(`${at}.history ${disorder}`);
      }
      if (typeof s.leader === 'string' && isEpoch(s.epoch) && isHistory(history))
        shards.push({
          idx: c.idx,
          name: c.name,
          leader: s.leader,
          replicas: [...s.replicas],
          epoch: s.epoch,
          history: history.map((h) => ({
            epoch: h.epoch,
            firstSeq: h.firstSeq,
            ...(h.restart === true ? { restart: true as const } : {}),
          })),
          ...(isEpoch(s.floor) ? { floor: s.floor } : {}),
        });
    }
  }
  if (problems.length > 0) throw new DistkvError('INVALID_ARGUMENT', `live map: ${problems.join('; ')}`);
  return { version: d.version as number, shards };
}

/**
 * checkSuccessor throws INVALID_ARGUMENT unless `next` may replace `current`: higher version, no
 * epoch lowered, a new leader in a higher epoch, and each shard's history the current one's, with
 * an entry for its new epoch when that rose. The history gives every fork point and every key
 * version's epoch: a map that rewrote it, or raised an epoch without saying where it starts, would
 * let a replica keep records no later leader had (no fork found) and label writes with another epoch.
 * `rewritten` names the shards of a merge whose entry a leader change replaced (`mergedMap`): they
 * are not checked.
 */
export function checkSuccessor(
  current: LiveMap,
  next: LiveMap,
  rewritten: ReadonlyMap<number, number> = new Map(),
): void {
  const problems: string[] = [];
  if (next.version <= current.version)
    problems.push(`version ${next.version} is not above the current ${current.version}`);
  for (const n of next.shards) {
    const c = current.shards.find((s) => s.idx === n.idx);
    // A shard whose restart epochs a leader change beat (`mergedMap`) follows that change's line.
    if (c === undefined || rewritten.has(n.idx)) continue;
    if (n.epoch < c.epoch) problems.push(`shard ${n.name}: epoch ${n.epoch} is below the current ${c.epoch}`);
    else if (highestEpoch(n) < highestEpoch(c))
      problems.push(
        `shard ${n.name}: it forgets epoch ${highestEpoch(c)} (the current floor), which a dropped line reached`,
      );
    else if (n.leader !== c.leader && n.epoch === c.epoch)
      problems.push(`shard ${n.name}: a new leader needs an epoch above ${c.epoch}`);
    const kept = c.history.every((h, i) => sameStart(n.history[i], h));
    if (!kept) problems.push(`shard ${n.name}: the history must keep the current one's entries`);
    else if (n.epoch === c.epoch && n.history.length !== c.history.length)
      problems.push(`shard ${n.name}: the history may grow only with the epoch (${c.epoch})`);
    else if (n.epoch > c.epoch && n.history.at(-1)?.epoch !== n.epoch)
      problems.push(`shard ${n.name}: epoch ${n.epoch} needs its start in the history (its last entry)`);
  }
  if (problems.length > 0) throw new DistkvError('INVALID_ARGUMENT', `live map: ${problems.join('; ')}`);
}

/**
 * sameStart tells whether two history entries are one: a restart and a failover made apart can
 * carry the same numbers (both epoch + 1 from the same seq), and they are not the same entry.
 */
export function sameStart(a: EpochStart | undefined, b: EpochStart): boolean {
  return a?.epoch === b.epoch && a.firstSeq === b.firstSeq && a.restart === b.restart;
}
