/**
 * Keyspace commands: SCAN and DBSIZE (KEYS: commands-keys.ts; INFO: commands-info.ts; WAIT:
 * commands-wait.ts). They cover the stores this node serves (served-stores.ts), so a cluster
 * client that scans every node sees every key once, and answer -TRYAGAIN while a store they would
 * read answers no reads or holds a disputed slot (`unreadableAt`). They read outside the op
 * batches, so they start once the connection's earlier replies are complete (readAtHead): a
 * write pipelined before them is durable, hence in the store, when they read.
 */
import { HARD_MAX_KEY_BYTES } from '../config/schema.js';
import { globMatch, literalPrefix } from './glob.js';
import type { LocalTarget } from './key-route.js';
import type { Pending } from './reply-queue.js';
import { END_CURSOR, parseCursor, type ScanPosition } from './scan-cursors.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { type ServedStore, servedShards, servedStores, unreadableAt } from './served-stores.js';
import type { StoreStatsReport } from '../worker/messages.js';
import { statsWithin } from './store-stats.js';
import { entryBytes, SCAN_PAGE_BYTES } from '../storage/store.js';
import { parseInt64 } from '../worker/read-modify-write.js';

const NOT_INTEGER = 'ERR value is not an integer or out of range';
const DEFAULT_SCAN_COUNT = 10;

/** scan: SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. */
export function scan(c: RespConnection, args: Buffer[]): void {
  // The cursor is read before the options, as Redis reads it (`SCAN abc FOO` is an invalid cursor).
  const cursor = parseCursor(args[1]!);
  if (cursor === undefined) {
    c.queue.now(c.proto).error('ERR invalid cursor');
    return;
  }
  let pattern: string | undefined;
  let count = DEFAULT_SCAN_COUNT;
  let typeOk = true;
  for (let i = 2; i < args.length; i += 2) {
    const opt = args[i]!.toString('latin1').toUpperCase();
    const arg = args[i + 1];
    if (arg === undefined) {
      c.queue.now(c.proto).error('ERR syntax error');
      return;
    }
    if (opt === 'MATCH') pattern = arg.toString('latin1');
    else if (opt === 'COUNT') {
      const n = parseInt64(arg.toString('latin1'));
      if (n === undefined || n < 1n) {
        c.queue.now(c.proto).error(n === undefined ? NOT_INTEGER : 'ERR syntax error');
        return;
      }
      count = Math.min(Number(n), 100000);
    } else if (opt === 'TYPE') typeOk = arg.toString('latin1').toLowerCase() === 'string';
    else {
      c.queue.now(c.proto).error('ERR syntax error');
      return;
    }
  }
  if (cursor === END_CURSOR) {
    writePage(c.queue.now(c.proto), '0', []);
    return;
  }
  const pos = cursor < 2n ** 53n ? c.ctx.cursors.take(Number(cursor)) : undefined;
  if (pos === undefined) {
    c.queue.now(c.proto).error('ERR invalid cursor');
    return;
  }
  // No key has a type other than string: a scan of another type is complete at once (Redis 7.0
  // walks its buckets to the same empty end, answering the cursor 0 at once on a small database).
  if (!typeOk) {
    writePage(c.queue.now(c.proto), '0', []);
    return;
  }
  const prefix = Buffer.from(pattern === undefined ? '' : literalPrefix(pattern), 'latin1');
  // No key is longer than HARD_MAX_KEY_BYTES (whatever max_key_bytes is now: lowered, it keeps
  // longer keys written before), so neither is a prefix of one: the scan is complete at once (the
  // stores cannot seek to a key past LMDB's own limit, and answered TRYAGAIN with it).
  if (prefix.length > HARD_MAX_KEY_BYTES) {
    writePage(c.queue.now(c.proto), '0', []);
    return;
  }
  // A position names a shard, not a place in this list: the list changes when a failover moves a
  // leader here or away (or with READONLY), and a place in it then named another store, whose
  // keys the scan skipped or repeated. The scan resumes at the first shard served from there on.
  const served = servedShards(c);
  const p = c.queue.later(c.proto, () => undefined);
  const at = served.findIndex((s) => s.shard >= pos.shard);
  if (at < 0) {
    c.queue.completeWith(p, (w) => {
      writePage(w, '0', []);
    });
    return;
  }
  const from = served[at]!.shard === pos.shard ? pos.after : undefined;
  const page: ScanPage = { served, prefix, count, pattern, read: 0, bytes: 0, keys: [] };
  // Once the replies before it are complete, so a page sees the writes sent before the SCAN.
  c.readAtHead(p, () => {
    if (!unreadableAt(c, p, 'SCAN', prefix)) scanPage(c, p, page, at, from);
  });
}

/** writePage writes a SCAN reply: the next cursor and the keys. */
function writePage(w: RespWriter, cursor: string, keys: Buffer[]): void {
  w.array(2);
  w.bulk(cursor);
  w.array(keys.length);
  for (const k of keys) w.bulk(k);
}

/** ScanPage is one SCAN call being read: what it asks, and what its reads have found so far. */
interface ScanPage {
  served: ServedStore[];
  prefix: Buffer;
  count: number;
  pattern: string | undefined;
  /** read counts the entries read (matching or not) and their bytes (entryBytes), against COUNT and SCAN_PAGE_BYTES. */
  read: number;
  bytes: number;
  keys: Buffer[];
}

/**
 * scanPage reads the store of `page.served[i]` after `after` and answers at `p`. A store that ends
 * before COUNT entries (and SCAN_PAGE_BYTES) are read hands on to the next store served, so a
 * small database is scanned in one call, cursor 0, as Redis scans one (one shard per call made
 * `SCAN 0` on a node of four shards take four calls, and `SCAN 0 COUNT 1000` end at the first).
 */
function scanPage(c: RespConnection, p: Pending, page: ScanPage, i: number, after: Buffer | undefined): void {
  const { target, shard } = page.served[i]!;
  c.ctx.pool
    .call(target.worker, {
      type: 'scan',
      store: target.store,
      prefix: page.prefix,
      after: after ?? null,
      limit: page.count - page.read,
      // The store reads values too: bounded in bytes, a page of large values stays a few MiB
      // (COUNT is a hint: such a page holds fewer keys and the cursor goes on from its last).
      maxBytes: SCAN_PAGE_BYTES - page.bytes,
    })
    .then(
      (r) => {
        const entries = r.type === 'scan-result' ? r.entries : [];
        page.read += entries.length;
        for (const e of entries) {
          page.bytes += entryBytes(e);
          const k = Buffer.from(e.key);
          if (page.pattern === undefined || globMatch(page.pattern, k.toString('latin1'))) page.keys.push(k);
        }
        const last = entries[entries.length - 1];
        const more = r.type === 'scan-result' && r.more && last !== undefined;
        const room = page.read < page.count && page.bytes < SCAN_PAGE_BYTES;
        if (!more && room && i + 1 < page.served.length) {
          scanPage(c, p, page, i + 1, undefined);
          return;
        }
        const next: ScanPosition | undefined = more
          ? { shard, after: Buffer.from(last.key) }
          : i + 1 < page.served.length
            ? { shard: page.served[i + 1]!.shard, after: undefined }
            : undefined;
        c.queue.completeWith(p, (w) => {
          writePage(w, next === undefined ? '0' : String(c.ctx.cursors.save(next)), page.keys);
        });
      },
      (err: unknown) => {
        c.queue.completeWith(p, (w) => {
          w.error(`TRYAGAIN ${err instanceof Error ? err.message : String(err)}`);
        });
      },
    );
}

/** keyCount resolves with the number of keys in `stores` (by default the stores this node serves). */
export async function keyCount(
  c: RespConnection,
  stores: readonly LocalTarget[] = servedStores(c),
): Promise<number> {
  return countKeys(await statsWithin(c), stores);
}

/** countKeys sums the `keys` of `stores` in `stats`. */
export function countKeys(stats: readonly StoreStatsReport[], stores: readonly LocalTarget[]): number {
  const wanted = new Set(stores.map((t) => t.store));
  let keys = 0;
  for (const s of stats) if (wanted.has(s.index)) keys += Number(s.stats.keys ?? 0);
  return keys;
}

/** dbsize: DBSIZE. */
export function dbsize(c: RespConnection): void {
  const p = c.queue.later(c.proto, () => undefined);
  c.readAtHead(p, () => {
    if (!unreadableAt(c, p, 'DBSIZE', Buffer.alloc(0))) countFor(c, p);
  });
}

/** countFor answers DBSIZE at `p` once the replies before it are complete (their writes counted). */
function countFor(c: RespConnection, p: Pending): void {
  keyCount(c).then(
    (n) => {
      c.queue.completeWith(p, (w) => {
        w.integer(n);
      });
    },
    (err: unknown) => {
      c.queue.completeWith(p, (w) => {
        w.error(`TRYAGAIN ${err instanceof Error ? err.message : String(err)}`);
      });
    },
  );
}
