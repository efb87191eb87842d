/**
 * One shard of `distkv backup` (backup.ts; docs/operations.md, "Backup and restore"): its snapshot
 * copied from its leader into the file, and the checks that say whether the copy is the shard.
 *
 * A shard is copied from its leader with `GET /_repl/snapshot` (the stream a new replica loads)
 * into its section of the file (backup-format.ts). The snapshot starts at the leader's last seq S
 * and is read while writes go on, so after the copy the leader is asked again (`/cluster`): no
 * record after S but its own expire records (`heldStill`) means the copy is exactly the shard at S
 * ("consistent"); otherwise the section is cut and the shard copied again, up to --retries times,
 * and a shard that never holds still fails the backup unless --allow-fuzzy. A shard whose leader
 * cannot be reached or no longer leads it (leader-wait.ts, MOVING) is copied again from the leader
 * a reloaded map names, for up to --wait-ms; a copy counts as consistent only when the node it
 * came from still leads the shard at the copy's seq. A leader that is busy (503 REPLICATION_BUSY:
 * it serves as many snapshot streams of the store as it takes at once) is the leader: it is asked
 * again after its Retry-After, within the same --wait-ms, and the wait says so (refusal-wait.ts);
 * it said "looking for its leader", and an operator looked for a failover that never happened.
 * Every BUSY_MAP_LOOK_MS of that wait the newest map is looked for (every node asked: one cut off
 * from its peers still believes it leads, and answers a reload with its own map), and the leader it
 * names asked from then on, said once. With --wait-ms 0 nothing is waited out: the first refusal
 * fails the backup, naming it. A leader that refuses slots of the shard
 * because a peer's config gives them another leader (SLOTS_DISPUTED), or that started behind its
 * replica (LEADER_BEHIND), fails the backup: what it streamed is not the whole shard.
 */
import type { Agent } from 'undici';
import type { DistkvClient } from '../client/client.js';
import type { ClusterShard } from '../client/types.js';
import { errorOf } from '../client/wire-decode.js';
import { DistkvError } from '../errors.js';
import { SnapshotDecoder } from '../replication/snapshot-format.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { formatRanges, intersectRanges, parseRanges } from '../routing/slot-dispute.js';
import { undici } from '../util/lazy-undici.js';
import { mib } from '../util/mib.js';
import { ERROR_BODY_BYTES, readBody } from '../util/peer-answer.js';
import { plural } from '../util/plural.js';
import type { FileSink } from './backup-file.js';
import { encodeSectionHeader } from './backup-format.js';
import { disputesOf } from './cluster-gather.js';
import { behindAdvice, isMoving, lookForLeader, noLeaderAdvice } from './leader-wait.js';
import { newWait, type ProgressLine } from './progress-line.js';
import {
  BUSY_MAP_LOOK_MS,
  DEFAULT_RETRY_AFTER_MS,
  movedLine,
  notWaitedLine,
  type RetryAfter,
  refusalWait,
  retryAfter,
  waitLine,
  waitSubject,
} from './refusal-wait.js';

/** ShardCopy is how a shard was copied: at which seq, how many keys, and whether it is exactly the shard at that seq. */
export interface ShardCopy {
  seq: number;
  keys: number;
  consistent: boolean;
}

/**
 * BackupRun is what the copies of a backup's shards share: the client (maps, `/cluster`), the
 * scheme ("http:" or "https:"), token and agent of the snapshot requests, the file's sink, the
 * progress line, how many shards the map has, and the options (--retries, --wait-ms,
 * --allow-fuzzy) and FILE, which errors name.
 */
export interface BackupRun {
  client: DistkvClient;
  scheme: string;
  token: string;
  agent: Agent;
  sink: FileSink;
  progress: ProgressLine;
  shards: number;
  retries: number;
  waitMs: number;
  allowFuzzy: boolean;
  file: string;
}

/** ERROR_READ_MS bounds the read of a refusal's body (its head came: a JSON error is a few hundred bytes). */
const ERROR_READ_MS = 10_000;
/**
 * decodedCount returns how many records `bytes` completes in `decoder`; a snapshot the decoder
 * refuses (its crc32c does not match, a bad header) is CORRUPTION naming `origin` (the caller adds
 * the shard and what to do): the decoder's message named neither.
 */
function decodedCount(decoder: SnapshotDecoder, bytes: Buffer, idx: number, origin: string): number {
  try {
    return decoder.push(bytes).length;
  } catch (err) {
    throw new DistkvError(
      'CORRUPTION',
      `its snapshot from ${origin} is damaged (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/**
 * copyShard streams one shard's snapshot from `origin` into the sink; returns its seq and key
 * count. A connection that fails (refused, reset, cut mid-stream) is SHARD_UNREACHABLE naming the
 * shard and the node; a failed write to the file is the file's error, as it is. A refusal is
 * thrown as the node's error, after `onRefused` was told its Retry-After.
 */
async function copyShard(
  origin: string,
  idx: number,
  token: string,
  agent: Agent,
  sink: FileSink,
  onChunk: (keys: number) => void,
  onRefused: (wait: RetryAfter) => void,
): Promise<{ seq: number; keys: number }> {
  const unreachable = (err: unknown): DistkvError =>
    err instanceof DistkvError
      ? err
      : new DistkvError(
          'SHARD_UNREACHABLE',
          `shard ${idx} could not be copied from ${origin}: ${(err as Error).message}`,
          { cause: err },
        );
  const { request } = await undici();
  const res = await request(`${origin}/_repl/snapshot?shard=${idx}`, {
    dispatcher: agent,
    headers: token === '' ? {} : { authorization: `Bearer ${token}` },
  }).catch((err: unknown) => {
    throw unreachable(err);
  });
  // A refusal's body is read up to ERROR_BODY_BYTES: a node that sent more (broken, or not a
  // distkv node) had it all gathered in memory.
  if (res.statusCode !== 200) {
    onRefused(retryAfter(res.headers['retry-after']));
    throw errorOf(
      res.statusCode,
      await readBody(
        res,
        ERROR_BODY_BYTES,
        ERROR_READ_MS,
        `snapshot of shard ${idx} from ${origin}`,
        true,
      ).catch((err: unknown) => {
        throw unreachable(err);
      }),
    );
  }
  const decoder = new SnapshotDecoder();
  const chunks = res.body[Symbol.asyncIterator]();
  let keys = 0;
  try {
    for (;;) {
      const next = await chunks.next().catch((err: unknown) => {
        throw unreachable(err);
      });
      if (next.done === true) break;
      const bytes = next.value as Buffer;
      keys += decodedCount(decoder, bytes, idx, origin);
      await sink.write(bytes);
      onChunk(keys);
    }
  } catch (err) {
    // A stream left half read (the file could not take a chunk) kept its connection, and the
    // agent's close waited for it for ever: the command exited 13 with nothing said.
    res.body.destroy();
    throw err;
  }
  if (decoder.seq === undefined || !decoder.done)
    throw new DistkvError('SHARD_UNREACHABLE', `the snapshot of shard ${idx} from ${origin} ended early`);
  return { seq: decoder.seq, keys };
}

/**
 * heldStill tells whether a shard copied from `leader` as a snapshot at `seq` is exactly its state
 * at `seq`, by the leader's `/cluster` read after the copy (`after`): the node still leads it and
 * logged nothing after `seq` but the expire records it writes itself as TTLs run out
 * (`last_write_seq`; a node that does not report it must have logged nothing at all). An expire
 * record changes nothing a restore writes: its key, whose expiry had passed, is in the copy with
 * that expiry or not at all, and a restore skips it either way. A shard whose keys keep expiring
 * used to fail every copy, with no client writing.
 */
function heldStill(after: ClusterShard['leader'] | undefined, seq: number, leader: string): boolean {
  if (after?.address !== leader || after.last_seq === undefined || after.last_seq < seq) return false;
  return after.last_write_seq === undefined ? after.last_seq === seq : after.last_write_seq <= seq;
}

/**
 * refuseDisputed throws SLOTS_DISPUTED when `leader`'s `/cluster` peers (`peers`) name slots of
 * shard `s` it refuses: another node's config gives them another leader, which may have taken
 * writes for them that this copy lacks (docs/operations.md, "When the nodes disagree about the config").
 */
function refuseDisputed(peers: unknown, leader: string, s: ShardInfo): void {
  const shardSlots = [s.slots];
  const found = disputesOf(leader, peers).flatMap((d) => {
    const slots = intersectRanges(parseRanges(d.slots) ?? shardSlots, shardSlots);
    return slots.length === 0
      ? []
      : [`node ${d.peer} (config ${String(d.peer_version)}): slots ${formatRanges(slots)}`];
  });
  if (found.length > 0)
    throw new DistkvError(
      'SLOTS_DISPUTED',
      `shard ${s.idx} (${s.name}) was not backed up: its leader ${leader} refuses slots another node's config gives another leader (${found.join('; ')}), which may hold writes a copy would lack. Give every node the same sharding.toml and run the backup again`,
    );
}

/**
 * refuseBehind throws LEADER_BEHIND when `leader`'s `/cluster` (`after`, read after the copy) says
 * it started behind a replica of shard `s` (an empty or older store, docs/failover.md): what it
 * streamed is not the shard. Such a leader refuses the snapshot itself (repl-routes.ts); this
 * catches one held while the copy ran. Before, the backup copied the empty store as the shard, at
 * seq 0, "consistent", and exited 0: a restore of that file had none of the shard's keys.
 */
function refuseBehind(after: ClusterShard['leader'] | undefined, leader: string, s: ShardInfo): void {
  const b = after?.behind;
  if (b === undefined) return;
  throw new DistkvError(
    'LEADER_BEHIND',
    `shard ${s.idx} (${s.name}) was not backed up: ${behindAdvice(s.name, leader, b)}`,
  );
}

/**
 * backupShard copies shard `s` into its section of `run.sink` (see the design block) and returns
 * how; the section's consistent flag is set once the copy is known to be the shard at its seq.
 */
export async function backupShard(run: BackupRun, s: ShardInfo): Promise<ShardCopy> {
  const { client, sink, progress, retries, waitMs, allowFuzzy, file } = run;
  let leader = s.address;
  const failoverDeadline = performance.now() + waitMs;
  const start = sink.position;
  let copy: ShardCopy | undefined;
  // The wait line drawn last, and when its wait started (see below).
  let shownWait: string | undefined;
  let waitStart = 0;
  // The Retry-After of the leader's last refusal (a busy leader is asked again after it).
  let busy: RetryAfter | undefined;
  // When the map was last loaded (a busy leader's wait looks for a newer one now and then).
  let mapLoadedAt = performance.now();
  for (let attempt = 0; attempt <= retries && copy?.consistent !== true; attempt++) {
    await sink.cut(start);
    await sink.write(encodeSectionHeader(s.idx, false));
    try {
      const { seq, keys } = await copyShard(
        `${run.scheme}//${leader}`,
        s.idx,
        run.token,
        run.agent,
        sink,
        (n) => {
          progress.show(
            () =>
              `backup: shard ${s.idx + 1}/${run.shards} (${s.name}${attempt > 0 ? `, copy ${attempt + 1}` : ''}): ${plural(n, 'key')}; ${mib(sink.position)} MiB written`,
          );
        },
        (wait) => {
          busy = wait;
        },
      );
      const view = await client.cluster(leader);
      refuseDisputed(view.peers, leader, s);
      const after = view.shards.find((v) => v.idx === s.idx)?.leader;
      refuseBehind(after, leader, s);
      copy = { seq, keys, consistent: heldStill(after, seq, leader) };
    } catch (err) {
      // The leader's file is not damaged: what it streamed was (a transfer, or the leader).
      if (err instanceof DistkvError && err.code === 'CORRUPTION')
        throw new DistkvError(
          err.code,
          `shard ${s.idx} (${s.name}): ${err.message}; a transfer or leader problem: run the backup again (if it fails again, check ${leader}'s log or fail the shard over); ${file} was not written`,
          { cause: err },
        );
      if (err instanceof DistkvError && err.code === 'LEADER_BEHIND')
        throw new DistkvError(
          err.code,
          `${err.message}; then run the backup again; ${file} was not written`,
          {
            cause: err,
          },
        );
      if (!isMoving(err)) throw err;
      const said = refusalWait(err.code, busy);
      // No wait asked for: the refusal as it is, not a wait of 0 s ("still busy after 0 s").
      if (waitMs === 0)
        throw new DistkvError(
          err.code,
          `shard ${s.idx} (${s.name}) was not backed up: ${notWaitedLine(err.code, leader, err.message)}; ${file} was not written`,
          { cause: err },
        );
      // The last refusal alone ("connect ECONNREFUSED") said neither that the shard was
      // waited for nor what to do about it.
      if (performance.now() >= failoverDeadline)
        throw new DistkvError(
          err.code,
          said.sameNode
            ? `shard ${s.idx} (${s.name}) was not backed up: its leader ${leader} was still busy after ${waitMs / 1000} s (${err.message}); run the backup again once the snapshot streams it serves have ended (replicas resyncing, other backups), or give it longer with --wait-ms; ${file} was not written`
            : `${err.message}; ${noLeaderAdvice(s.idx, s.name, leader, waitMs)}, then run the backup again; ${file} was not written`,
          { cause: err },
        );
      // A wait: not a copy that raced writes, so it does not count against --retries.
      attempt--;
      // Drawn at once when it names another refusal or leader, once per change and not per
      // retry: drawn as progress is, a log showed nothing of the wait for its first LOG_MS
      // (progress-line.ts, newWait).
      const prefix = `backup: shard ${s.idx + 1}/${run.shards} (${s.name}): `;
      const waiting = `${prefix}${waitLine(err.code, leader, busy)}`;
      const subject = waitSubject(err.code, leader, busy);
      const fresh = newWait(shownWait, subject);
      if (fresh) waitStart = performance.now();
      progress.show(() => {
        const waited = Math.round((performance.now() - waitStart) / 1000);
        return waited > 0 ? `${waiting} (waited ${waited} s)` : waiting;
      }, fresh);
      shownWait = subject;
      if (!said.sameNode) {
        leader = (await lookForLeader(client)).shard(s.idx).address;
        mapLoadedAt = performance.now();
        continue;
      }
      // A busy leader leads the shard: it is asked again, not another leader looked for, as
      // long as the newest map names it (see the design block).
      // Its Retry-After is waited out, the newest map looked for every BUSY_MAP_LOOK_MS meanwhile:
      // a long Retry-After (up to 30 s) kept a backup on a stale leader that long.
      const askAt = Math.min(performance.now() + (busy?.ms ?? DEFAULT_RETRY_AFTER_MS), failoverDeadline);
      let next = leader;
      while (next === leader) {
        const until = Math.min(askAt, mapLoadedAt + BUSY_MAP_LOOK_MS);
        await new Promise((r) => setTimeout(r, Math.max(0, until - performance.now())));
        if (performance.now() - mapLoadedAt >= BUSY_MAP_LOOK_MS) {
          await client.reloadNewest().catch(() => undefined);
          mapLoadedAt = performance.now();
          next = (await client.topology()).shard(s.idx).address;
        }
        if (performance.now() >= askAt) break;
      }
      if (next === leader) continue;
      const moved = `${prefix}${movedLine(leader, next)}`;
      progress.show(() => moved, true);
      shownWait = moved;
      leader = next;
    }
  }
  if (copy === undefined) throw new DistkvError('INTERNAL', `shard ${s.idx} was not copied`);
  if (copy.consistent) await sink.writeAt(encodeSectionHeader(s.idx, true), start);
  else if (!allowFuzzy)
    throw new DistkvError(
      'UNAVAILABLE',
      `shard ${s.idx} (${s.name}) was written to during each of ${retries + 1} copies; run the backup when writes pause, raise --retries, or pass --allow-fuzzy`,
    );
  return copy;
}
