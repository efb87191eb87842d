/**
 * KEYS and the flush commands. KEYS pattern lists the keys matching a glob pattern in the stores
 * this node serves (as SCAN and DBSIZE cover them: the shards it leads, after READONLY the
 * replicas at its address), so a cluster client asks every master, as with Redis Cluster's KEYS.
 * It starts once the connection's earlier commands are answered, so it sees the writes sent before
 * it, reads the stores in pages (the pattern's literal prefix narrows each scan) and never holds
 * more than KEYS_LIMIT matches: past that it answers an error naming SCAN instead of a reply that
 * could exhaust the node's memory (docs/resp.md).
 *
 * FLUSHDB and FLUSHALL are refused: distkv has no operation that empties every shard's store at
 * once, and deleting key by key could stop half-way (a shard restarting, a full disk) with no way
 * for the client to tell, so they answer an error rather than delete part of the data.
 */
import { HARD_MAX_KEY_BYTES } from '../config/schema.js';
import { SCAN_PAGE_BYTES } from '../storage/store.js';
import { globMatch, literalPrefix } from './glob.js';
import { servedStores, unreadableAt } from './served-stores.js';
import type { LocalTarget } from './key-route.js';
import type { Pending } from './reply-queue.js';
import type { RespConnection } from './resp-connection.js';

/** KEYS_LIMIT is the most keys KEYS answers; more is an error (use SCAN). */
export const KEYS_LIMIT = 100_000;
/** KEYS_PAGE is how many keys one scan of a store reads. */
const KEYS_PAGE = 1000;

/** matchingKeys resolves with the keys of `stores` matching `pattern`, or undefined when there are more than KEYS_LIMIT. */
async function matchingKeys(
  c: RespConnection,
  stores: readonly LocalTarget[],
  pattern: string,
): Promise<Buffer[] | undefined> {
  const prefix = Buffer.from(literalPrefix(pattern), 'latin1');
  const keys: Buffer[] = [];
  for (const target of stores) {
    let after: Buffer | null = null;
    for (;;) {
      const r = await c.ctx.pool.call(target.worker, {
        type: 'scan',
        store: target.store,
        prefix,
        after,
        limit: KEYS_PAGE,
        // The store reads values too: bounded in bytes, a page of large values stays a few MiB.
        maxBytes: SCAN_PAGE_BYTES,
      });
      const entries = r.type === 'scan-result' ? r.entries : [];
      for (const e of entries) {
        const key = Buffer.from(e.key);
        if (globMatch(pattern, key.toString('latin1')) && keys.push(key) > KEYS_LIMIT) return undefined;
      }
      if (r.type !== 'scan-result' || !r.more) break;
      after = Buffer.from(entries[entries.length - 1]!.key);
    }
  }
  return keys;
}

/** keys: KEYS pattern (the matching keys this node serves; an error past KEYS_LIMIT). */
export function keys(c: RespConnection, args: Buffer[]): void {
  const pattern = args[1]!.toString('latin1');
  const prefix = Buffer.from(literalPrefix(pattern), 'latin1');
  // A prefix longer than any key matches none (as SCAN's, commands-keyspace.ts).
  if (prefix.length > HARD_MAX_KEY_BYTES) {
    c.queue.now(c.proto).array(0);
    return;
  }
  const p = c.queue.later(c.proto, () => undefined);
  c.readAtHead(p, () => {
    if (!unreadableAt(c, p, 'KEYS', prefix)) scanFor(c, p, pattern);
  });
}

/** scanFor answers KEYS at `p` once the replies before it are complete (so their writes are in the stores). */
function scanFor(c: RespConnection, p: Pending, pattern: string): void {
  matchingKeys(c, servedStores(c), pattern).then(
    (found) => {
      c.queue.completeWith(p, (w) => {
        if (found === undefined)
          w.error(`ERR KEYS matches more than ${KEYS_LIMIT} keys on this node; use SCAN with MATCH`);
        else {
          w.array(found.length);
          for (const k of found) w.bulk(k);
        }
      });
    },
    (err: unknown) => {
      c.queue.completeWith(p, (w) => {
        w.error(`TRYAGAIN ${err instanceof Error ? err.message : String(err)}`);
      });
    },
  );
}

/** flush: FLUSHDB and FLUSHALL [ASYNC | SYNC], refused (see the design block). */
export function flush(c: RespConnection, args: Buffer[]): void {
  const name = args[0]!.toString('latin1').toUpperCase();
  c.queue
    .now(c.proto)
    .error(
      `ERR ${name} is not supported by distkv: it cannot empty every shard at once; delete keys with SCAN and DEL`,
    );
}
