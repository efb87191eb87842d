/**
 * RestoreWriter: how `distkv restore` (restore.ts) writes a backup's entries through the client
 * library, in groups, counting what it wrote, and following a shard's leader through a failover.
 *
 * Keys that are UTF-8 go in batches (`POST /kv/_batch`, whose JSON carries keys as text); a key that
 * is not UTF-8 is written by a `PUT /kv/%XX...` of its own with its exact bytes (PUTS_AT_ONCE at a
 * time), since text would stand for other bytes (U+FFFD in place of each one) and two such keys
 * could become one. A value over BATCH_VALUE_MAX_BYTES goes by a PUT of its own too: a batch carries
 * it as base64 in JSON (a third larger, decoded whole before anything runs), and nodes of earlier
 * versions failed a batch holding one of a few MiB with INTERNAL "Maximum call stack size exceeded"
 * (their base64 check), which stopped the restore of a backup whose cluster took such values
 * (server.max_value_bytes up to 64 MiB). Each write carries its key's expiry instant (expiryOption). An entry that has
 * expired by the time its group is sent is not written (`expired`): a node would take its write as
 * a delete (docs/api.md, "TTL"), and counted as written it would say the cluster holds a key it does
 * not. One that expires on the way (or whose expiry the node's clock, ahead of this one, finds
 * past) is written as a delete, which the node says (`deleted` in a batch result, X-Distkv-Deleted
 * of a PUT): it is counted as expired too, not written.
 *
 * Failover: entries whose write was refused as by a leader that is down or moving (leader-wait.ts,
 * MOVING; a write cut off in flight is SHARD_UNREACHABLE too; the wait says which, refusal-wait.ts) are written again, after a reload of
 * the map, at the leader it names, for up to --wait-ms (FAILOVER_WAIT_MS) without a write that succeeds
 * (with --wait-ms 0, not at all: the first such refusal stops the restore, naming it); their
 * shards are noted in `moved` (restore.ts writes such shards' keys again: the old leader may have
 * acknowledged writes its replicas had not copied). Sending a backup entry twice writes the same
 * value and expiry instant twice, which the client library does not do for an ordinary write (it
 * could undo another client's later write): a restore writes into an empty cluster, or with --force
 * overwrites the keys of the backup. Any other refusal stops the restore, saying how many keys were
 * written; `written` counts each entry once, when a node acknowledged it.
 */
import type { DistkvClient } from '../client/client.js';
import { keyText } from '../client/key-bytes.js';
import type { BatchOp } from '../client/types.js';
import { DistkvError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { slotOfBytes } from '../routing/slot.js';
import { plural } from '../util/plural.js';
import { FAILOVER_WAIT_MS, isMoving, lookForLeader, noLeaderAdvice } from './leader-wait.js';
import { notWaitedLine, waitLine } from './refusal-wait.js';

/**
 * RESTORE_BATCH_OPS and RESTORE_BATCH_BYTES bound the entries restore hands batch() at a time: up
 * to 1000 of them and 1 MiB of keys and values, less than one request of the client's carries
 * (src/client/batch-wire.ts), so each node gets one request at a time from the restore.
 */
const RESTORE_BATCH_OPS = 1000;
const RESTORE_BATCH_BYTES = 1024 * 1024;

/**
 * BATCH_VALUE_MAX_BYTES is the largest value restore writes in a batch; a larger one is written by
 * a PUT of its own, with its bytes as the body (see the design block).
 */
export const BATCH_VALUE_MAX_BYTES = 256 * 1024;

/** batched reports whether an entry is written in a batch (its key UTF-8, its value not large), else by a PUT of its own. */
function batched(p: Pending): boolean {
  return p.text !== undefined && p.value.length <= BATCH_VALUE_MAX_BYTES;
}

/**
 * PUTS_AT_ONCE is how many entries not batched (one PUT each) restore writes at a time: no
 * more than the client's connections to a node (16), so none waits for a connection.
 */
const PUTS_AT_ONCE = 16;

/** othersOf says how many more keys of a group were refused besides the one named. */
function othersOf(failures: number, group: string): string {
  return failures > 1 ? ` (and ${plural(failures - 1, 'more key')} of its ${group})` : '';
}

/** expiredAt reports whether a backup entry's expiry (Unix ms, 0 = never) has passed at `now`. */
export function expiredAt(expiresAtMs: number, now: number): boolean {
  return expiresAtMs !== 0 && expiresAtMs <= now;
}

/**
 * Pending is an entry waiting to be written: its key as text when it is UTF-8 (a batch operation),
 * else undefined (a PUT of its own with the key's bytes), and its expiry (Unix ms, 0 = never).
 */
export interface Pending {
  key: Buffer;
  text: string | undefined;
  value: Buffer;
  expiresAtMs: number;
}

/** Failure is an entry whose write was refused, and why. */
interface Failure {
  p: Pending;
  err: DistkvError;
}

/**
 * expiryOption is the expiry option of a write of an entry expiring at `expiresAtMs` (Unix ms, 0 =
 * never): the instant itself (`expires_at_ms`), so the key expires exactly when the backed-up one
 * did, however long the restore took to send it. It used to send the time left (`ttl_ms`), taken
 * just before each write was sent, and a node counts that from when the write arrives: every key
 * expired late by the time its write spent on the way (and, before that was taken at sending, by
 * the time spent on the writes before it).
 */
function expiryOption(expiresAtMs: number): { expiresAtMs?: number } {
  return expiresAtMs === 0 ? {} : { expiresAtMs };
}

/** shardOfEntry is the index of the shard of `p`'s key in `map`. */
export function shardOfEntry(map: ShardMap, key: Buffer): number {
  return map.shardOfSlot(slotOfBytes(key));
}

/** RestoreWriter writes entries in groups (see the design block). */
export class RestoreWriter {
  /** written counts the entries acknowledged in the first pass over the file. */
  written = 0;
  /** expired counts the entries not written because they had expired (first pass). */
  expired = 0;
  /** rewritten counts the entries acknowledged while `again` (a shard written again). */
  rewritten = 0;
  /** again: the entries are written a second time (counted in `rewritten`; an expired one is skipped uncounted). */
  again = false;
  /** moved are the shards a write was refused for as by a leader down or moving, since it was last cleared. */
  readonly moved = new Set<number>();
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private readonly client: DistkvClient;
  private readonly onProgress: (waiting: string | undefined) => void;
  private readonly waitMs: number;

  /**
   * `onProgress` is told after each group, with what the writer waits for while a shard has no
   * leader that answers; `waitMs` (--wait-ms) bounds that wait without a write that succeeds.
   */
  constructor(
    client: DistkvClient,
    onProgress: (waiting: string | undefined) => void,
    waitMs = FAILOVER_WAIT_MS,
  ) {
    this.client = client;
    this.onProgress = onProgress;
    this.waitMs = waitMs;
  }

  async add(p: Pending): Promise<void> {
    const size = p.key.length + p.value.length;
    if (this.pending.length > 0 && this.pendingBytes + size > RESTORE_BATCH_BYTES) await this.flush();
    this.pending.push(p);
    this.pendingBytes += size;
    if (this.pending.length >= RESTORE_BATCH_OPS) await this.flush();
  }

  /** flush writes the pending entries, following their shards' leaders through a failover. */
  async flush(): Promise<void> {
    let unwritten = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    let deadline = performance.now() + this.waitMs;
    while (unwritten.length > 0) {
      const { failed, sent } = await this.writeOnce(unwritten);
      if (failed.length === 0) break;
      // Some written: the cluster makes progress, so the wait for a leader starts again.
      if (failed.length < sent) deadline = performance.now() + this.waitMs;
      const map = await this.client.topology();
      for (const f of failed) this.moved.add(shardOfEntry(map, f.p.key));
      const first = failed[0]!;
      const s = map.shard(shardOfEntry(map, first.p.key));
      // No wait asked for: the refusal as it is, not a wait of 0 s ("no leader that answered for 0 s").
      if (this.waitMs === 0)
        throw this.stopped(
          first.err.code,
          keyText(first.p.text ?? first.p.key),
          notWaitedLine(first.err.code, s.address, `${first.err.message}${othersOf(failed.length, 'group')}`),
        );
      if (performance.now() >= deadline)
        throw this.stopped(
          first.err.code,
          keyText(first.p.text ?? first.p.key),
          `${first.err.message}${othersOf(failed.length, 'group')}; ${noLeaderAdvice(s.idx, s.name, s.address, this.waitMs)}`,
        );
      // Each refusal says what it is (refusal-wait.ts): "looking for its leader" was said of a
      // leader that was starting, or whose store was not open, too.
      this.onProgress(
        `${plural(failed.length, 'key')} of shard ${s.idx} (${s.name}) refused: ${waitLine(first.err.code, s.address)}`,
      );
      await lookForLeader(this.client);
      unwritten = failed.map((f) => f.p);
    }
    this.onProgress(undefined);
  }

  /** expiredNow reports (and counts, in the first pass) an entry that has expired by `now`: it is not written. */
  private expiredNow(p: Pending, now: number): boolean {
    if (!expiredAt(p.expiresAtMs, now)) return false;
    if (!this.again) this.expired++;
    return true;
  }

  /** acknowledged counts `n` entries a node acknowledged, `deleted` of them written as deletes (expired on the way). */
  private acknowledged(n: number, deleted: number): void {
    if (this.again) this.rewritten += n - deleted;
    else {
      this.written += n - deleted;
      this.expired += deleted;
    }
  }

  /**
   * writeOnce sends each entry once, unless it has expired by the time its group is sent, and
   * returns those refused as by a leader down or moving and how many were sent; any other refusal
   * stops the restore at once (the entries after it are not sent).
   */
  private async writeOnce(unwritten: readonly Pending[]): Promise<{ failed: Failure[]; sent: number }> {
    const failed: Failure[] = [];
    const now = Date.now();
    const texts = unwritten.filter((p) => batched(p) && !this.expiredNow(p, now));
    let sent = texts.length;
    const ops: BatchOp[] = texts.map((p) => ({
      op: 'set',
      key: p.text!,
      value: p.value,
      ...expiryOption(p.expiresAtMs),
    }));
    const results = ops.length === 0 ? [] : await this.client.batch(ops);
    let deleted = 0;
    results.forEach((r, i) => {
      if (!r.ok) failed.push({ p: texts[i]!, err: r.error });
      else if (r.deleted === true) deleted++;
    });
    this.acknowledged(results.length - failed.length, deleted);
    this.stopUnlessMoving(failed, 'batch');
    const bytes = unwritten.filter((p) => !batched(p));
    for (let i = 0; i < bytes.length; i += PUTS_AT_ONCE) {
      const sentAt = Date.now();
      const group = bytes.slice(i, i + PUTS_AT_ONCE).filter((p) => !this.expiredNow(p, sentAt));
      sent += group.length;
      const outcomes = await Promise.allSettled(
        group.map((p) => this.client.putResult(p.key, p.value, expiryOption(p.expiresAtMs))),
      );
      const refused: Failure[] = [];
      let deletedPuts = 0;
      outcomes.forEach((o, k) => {
        if (o.status === 'fulfilled') {
          if (o.value.deleted) deletedPuts++;
          return;
        }
        const err: unknown = o.reason;
        if (!(err instanceof DistkvError)) throw err;
        refused.push({ p: group[k]!, err });
      });
      this.acknowledged(outcomes.length - refused.length, deletedPuts);
      this.stopUnlessMoving(refused, 'PUTs');
      failed.push(...refused);
    }
    return { failed, sent };
  }

  /** stopUnlessMoving stops the restore at the first refusal of `failed` that is not MOVING. */
  private stopUnlessMoving(failed: readonly Failure[], group: string): void {
    const f = failed.find((x) => !isMoving(x.err));
    if (f !== undefined)
      throw this.stopped(
        f.err.code,
        keyText(f.p.text ?? f.p.key),
        `${f.err.message}${othersOf(failed.length, group)}`,
      );
  }

  /**
   * stopped is the error that ends a restore at a refused key. The keys written before it stay:
   * it says how many, since a second restore is refused (CLUSTER_NOT_EMPTY) without --force.
   */
  private stopped(code: DistkvError['code'], key: string, why: string): DistkvError {
    return new DistkvError(code, `restoring key ${key}: ${why}; ${stoppedAfter(this.written)}`);
  }
}

/**
 * stoppedAfter says what a restore that stopped after `written` acknowledged keys left, and how to
 * go on. With none, "the cluster holds part of the backup, so run it again with --force" sent a
 * user restoring onto a full disk to --force over a cluster that held none of it.
 */
export function stoppedAfter(written: number): string {
  return written === 0
    ? 'the restore stopped before any key was written: run it again once that is fixed (with --force if it then says the cluster is not empty: a write in flight may have been executed)'
    : `the restore stopped after writing ${plural(written, 'key')}: the cluster holds part of the backup, so run it again with --force once that is fixed`;
}
