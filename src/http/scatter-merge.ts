/**
 * Scatter/merge of multi-key requests, as pure functions (collection-routes.ts does the I/O):
 *  - a scan is planned per shard: read from a store this process hosts (the leader if hosted, else
 *    a hosted replica), ask the owner in another process (grouped by owner, naming the shards it is
 *    asked for, since it may host others too), or, with `local=1`, report the shard missing; the
 *    pages are merged in key byte order and cut to the limit, to a byte bound and to the first
 *    key after which a part may hold more, with `next` the last key when anything was left.
 *  - a batch is split the same way: operations for local leaders, operations per remote owner,
 *    and those answered at once (invalid, or for another node under `local=1`).
 */
import { isUtf8 } from 'node:buffer';
import { DistkvError, type WireError } from '../errors.js';
import type { Target } from '../server/node-plan.js';
import { entryBytes } from '../storage/store.js';
import { compareBytes } from '../util/bytes.js';
import type { ScanEntry } from '../worker/messages.js';
import type { BatchOp } from './batch-parse.js';
import { uintOf } from './request-parse.js';

/** LocalTarget is a store hosted by this process. */
export type LocalTarget = Target & { local: true };

/** ScanPlan says where each shard's part of a scan comes from. */
export interface ScanPlan {
  local: { shard: number; target: LocalTarget }[];
  /** remote: owner address → the shards it is asked for. */
  remote: Map<string, number[]>;
  /** missing: shards left out (`local=1`, or no store and no other owner). */
  missing: number[];
}

/** LeaderOnly says which shards a scan reads at their leader only: all (`leader=1`), none, or those a predicate names. */
export type LeaderOnly = boolean | ((shard: number) => boolean);

/**
 * planScan picks a source per shard from the listener's routing tables: the leader in this
 * process, else (unless `leaderOnly` for it) a replica in this process, else the leader's node.
 */
export function planScan(
  shards: readonly number[],
  writes: readonly Target[],
  reads: readonly Target[],
  localOnly: boolean,
  leaderOnly: LeaderOnly = false,
): ScanPlan {
  const plan: ScanPlan = { local: [], remote: new Map(), missing: [] };
  for (const shard of shards) {
    const w = writes[shard]!;
    const r = reads[shard]!;
    const lead = typeof leaderOnly === 'function' ? leaderOnly(shard) : leaderOnly;
    const target = w.local ? w : r.local && !lead ? r : undefined;
    if (target !== undefined) plan.local.push({ shard, target });
    else if (!localOnly && !w.local)
      plan.remote.set(w.address, [...(plan.remote.get(w.address) ?? []), shard]);
    else plan.missing.push(shard);
  }
  return plan;
}

/**
 * parseShardList reads the `shards` parameter of a forwarded scan part ("0,2"): distinct shard
 * indexes below `count`, in ascending order.
 */
export function parseShardList(text: string, count: number): number[] {
  const shards = new Set<number>();
  for (const part of text.split(',')) {
    const n = uintOf(part);
    if (!(n < count))
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `shards must list shard indexes 0..${count - 1} separated by commas, got "${text}"`,
      );
    shards.add(n);
  }
  return [...shards].sort((x, y) => x - y);
}

/**
 * ScanPage is one part's answer: its entries in key order, whether it had more, and the
 * X-Distkv-Lag text of each of its shards a replica served (a forwarded part's `replica_lag`).
 */
export interface ScanPage {
  entries: ScanEntry[];
  more: boolean;
  replicaLag?: Record<string, string>;
}

/**
 * worstLag picks the page's X-Distkv-Lag among its replica parts' (undefined when leaders served
 * every part): an unknown lag (a state, with the time since the last contact or `no-contact`) is
 * worse than any count of seqs, and the longer without contact (never is longest), the worse.
 */
export function worstLag(lags: Record<string, string>): string | undefined {
  let worst: string | undefined;
  let worstRank = -1;
  for (const text of Object.values(lags)) {
    const rank = lagRank(text);
    if (rank > worstRank) [worst, worstRank] = [text, rank];
  }
  return worst;
}

const UNKNOWN_LAG_RANK = 2 ** 52;

function lagRank(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const contact = /last-contact-ms=(\d+)$/.exec(text);
  return UNKNOWN_LAG_RANK + (contact === null ? UNKNOWN_LAG_RANK / 2 : Number(contact[1]));
}

/**
 * ScanItem is one entry as the JSON page shows it. A key that is not UTF-8 shows in `key` with
 * U+FFFD in place of its bytes and exactly in `key_base64` (two such keys can show as one text).
 */
export type ScanItem = { key: string; key_base64?: string } & ({ value: string } | { value_base64: string });

/**
 * MergedScan is one merged page: its items and the cursor of the next (null at the end), whose
 * bytes are in `nextBase64` when they are not UTF-8 (`next` would resume somewhere else: after
 * `q\x801`, `next` is `q\uFFFD1`, whose bytes EF BF BD sort after 80 and before FF).
 */
export interface MergedScan {
  items: ScanItem[];
  next: string | null;
  nextBase64?: string;
}

// ignoreBOM: a value's leading U+FEFF is part of it (by default the decoder drops it).
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** encodeValue renders bytes for JSON: `{value}` when valid UTF-8 (and not forced), else `{value_base64}`. */
export function encodeValue(
  bytes: Uint8Array,
  forceBase64: boolean,
): { value: string } | { value_base64: string } {
  if (!forceBase64) {
    try {
      return { value: STRICT_UTF8.decode(bytes) };
    } catch {
      // not UTF-8: fall back to base64
    }
  }
  return { value_base64: Buffer.from(bytes).toString('base64') };
}

/**
 * withExactKey adds `key_base64` to an item whose key is not UTF-8 (its text holds U+FFFD, which
 * decoding puts in place of such bytes; a key may also hold U+FFFD itself, hence the check).
 */
function withExactKey(item: ScanItem, bytes: Uint8Array): ScanItem {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!item.key.includes('\uFFFD') || isUtf8(b)) return item;
  const { key, ...rest } = item;
  return { key, key_base64: b.toString('base64'), ...rest };
}

/**
 * mergeScan merges parts in key byte order into one page and its `next` cursor. The page holds at
 * most `limit` items, ends after the item that brings its keys' and values' bytes to `maxBytes`,
 * and never goes past the last key of a part that had more: that part's keys after it are not
 * known yet (a part cut by count holds `limit` keys up to there, so the count alone used to keep
 * the page within it; a part cut by bytes may end far sooner than the others). A part with more
 * holds at least one entry (Store.scan's byte bound always admits one), so a page never comes
 * back empty with a cursor.
 */
export function mergeScan(
  pages: readonly ScanPage[],
  limit: number,
  base64: boolean,
  maxBytes = Infinity,
): MergedScan {
  let bound: Uint8Array | undefined;
  for (const p of pages) {
    const last = p.entries[p.entries.length - 1];
    if (p.more && last !== undefined && (bound === undefined || compareBytes(last.key, bound) < 0))
      bound = last.key;
  }
  const merged = pages.flatMap((p) => p.entries).sort((a, b) => compareBytes(a.key, b.key));
  let end = 0;
  let bytes = 0;
  while (end < merged.length && end < limit && bytes < maxBytes) {
    const e = merged[end]!;
    if (bound !== undefined && compareBytes(e.key, bound) > 0) break;
    bytes += entryBytes(e);
    end++;
  }
  const more = end < merged.length || pages.some((p) => p.more);
  const page = end === merged.length ? merged : merged.slice(0, end);
  const items = page.map((e) =>
    withExactKey(
      {
        key: Buffer.from(e.key).toString('utf8'),
        ...encodeValue(e.value, base64),
        ...(e.version === undefined ? {} : { version: e.version }),
      },
      e.key,
    ),
  );
  const last = items[items.length - 1];
  if (!more || last === undefined) return { items, next: null };
  return last.key_base64 === undefined
    ? { items, next: last.key }
    : { items, next: last.key, nextBase64: last.key_base64 };
}

/**
 * BatchResult is one operation's outcome (`version`: the key's current one, for a failed condition;
 * `deleted`: a set whose expiry was already past by its leader's clock, written as a delete).
 */
export type BatchResult =
  { ok: true; deleted?: true } | { ok: false; error: WireError; version?: string | null };

/** IndexedOp is an operation with its position in the batch. */
export interface IndexedOp {
  index: number;
  op: BatchOp & { op: 'set' | 'delete' };
}

/** BatchPlan splits a batch: local operations with their store, remote ones per owner, answers now. */
export interface BatchPlan {
  local: (IndexedOp & { target: LocalTarget })[];
  remote: Map<string, IndexedOp[]>;
  settled: { index: number; result: BatchResult }[];
}

/**
 * planBatch splits `ops` by the leader of each key's shard; an operation `refusal` refuses (its
 * slot is disputed: src/server/slot-gate.ts) is settled with that error, neither run nor forwarded.
 */
export function planBatch(
  ops: readonly BatchOp[],
  shardOf: (key: string) => number,
  writes: readonly Target[],
  localOnly: boolean,
  refusal: (key: string) => WireError | undefined = () => undefined,
): BatchPlan {
  const plan: BatchPlan = { local: [], remote: new Map(), settled: [] };
  ops.forEach((op, index) => {
    if (op.op === 'invalid') {
      plan.settled.push({ index, result: { ok: false, error: op.error } });
      return;
    }
    const refused = refusal(op.key);
    if (refused !== undefined) {
      plan.settled.push({ index, result: { ok: false, error: refused } });
      return;
    }
    const shard = shardOf(op.key);
    const t = writes[shard]!;
    if (t.local) plan.local.push({ index, op, target: t });
    else if (localOnly)
      plan.settled.push({
        index,
        result: {
          ok: false,
          error: {
            code: 'WRONG_NODE',
            message: `key belongs to shard ${shard}, led by ${t.address}; send this operation there`,
          },
        },
      });
    else plan.remote.set(t.address, [...(plan.remote.get(t.address) ?? []), { index, op }]);
  });
  return plan;
}

/** toWireOp is an operation as forwarded to its owner (values as base64, with its condition and TTL). */
export function toWireOp(op: IndexedOp['op']): Record<string, string | number> {
  const cond =
    op.cond === undefined
      ? {}
      : 'ifMatch' in op.cond
        ? { if_match: op.cond.ifMatch }
        : { if_none_match: '*' };
  return op.op === 'set'
    ? {
        op: 'set',
        key: op.key,
        value_base64: op.value.toString('base64'),
        ...cond,
        ...(op.ttlMs === undefined ? {} : { ttl_ms: op.ttlMs }),
        ...(op.expiresAtMs === undefined ? {} : { expires_at_ms: op.expiresAtMs }),
      }
    : { op: 'delete', key: op.key, ...cond };
}
