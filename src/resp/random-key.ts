/**
 * RANDOMKEY: a key drawn at random from the stores this node serves (as SCAN and KEYS cover them:
 * the shards it leads, after READONLY the replicas at its address), or nil when they hold none,
 * as a Redis Cluster node answers from its own keys. It starts once the connection's earlier
 * replies are complete (readAtHead), so a key written just before it can be drawn.
 *
 * A store has no index by position, only reads in key order (`scan` after a key, under a prefix),
 * so the draw descends the keys' byte tree: while more than RANDOM_PAGE_KEYS keys share the prefix
 * drawn so far, a random byte b picks the first key after prefix+b (wrapping to the first) and the
 * prefix grows by that key's next byte; once few keys share it, one of them is drawn uniformly.
 * Each step is one or two page reads, so a draw costs at most about twice the key's length in
 * reads, whatever the store's size. Keys are therefore not drawn with equal chances (a key alone
 * in a sparse branch of the tree comes more often than one of many siblings), as Redis's draw is
 * not exactly uniform either; stores are tried in a random order, the first that holds a key answers.
 *
 * While a peer's config gives some slots another leader (src/server/slot-gate.ts), the draw leaves
 * out each store that holds such a slot: one of its keys may be gone at the other leader, and it
 * lacks the keys that leader took. A key of the other stores is still a random key of this node's
 * (Redis promises no more than "a random key"), so RANDOMKEY answers one while they hold any; only
 * when they hold none is it -TRYAGAIN (nil would say the node holds no key, which the left-out
 * stores may contradict).
 * A leader store here that answers no reads now (held by a failover, or without its lease) makes it
 * -TRYAGAIN outright, as SCAN and KEYS (served-stores.ts, `heldAt`): the key drawn there could
 * be one a new leader has deleted.
 */
import { HARD_MAX_KEY_BYTES } from '../config/schema.js';
import { SCAN_PAGE_BYTES } from '../storage/store.js';
import { disputedAt, heldAt, servedShards } from './served-stores.js';
import type { LocalTarget } from './key-route.js';
import type { Pending } from './reply-queue.js';
import type { RespConnection } from './resp-connection.js';

/** NO_PREFIX is the prefix of a draw: every key of a store may be drawn. */
const NO_PREFIX = new Uint8Array(0);

/** RANDOM_PAGE_KEYS is how few keys under a prefix are drawn from directly, one page of them. */
export const RANDOM_PAGE_KEYS = 16;

/** randomkey: RANDOMKEY. */
export function randomkey(c: RespConnection): void {
  const p = c.queue.later(c.proto, () => undefined);
  c.readAtHead(p, () => {
    if (!heldAt(c, p, 'RANDOMKEY')) answer(c, p);
  });
}

/** answer draws the key from the stores whose slots are all served and answers it (or nil) at `p`. */
function answer(c: RespConnection, p: Pending): void {
  const served = servedShards(c);
  const gate = c.ctx.slotGate;
  const clear =
    gate?.some === true
      ? served.filter((s) => gate.disputedReads([c.ctx.shardMap.shard(s.shard).slots]).length === 0)
      : served;
  drawKey(
    c,
    clear.map((s) => s.target),
    Math.random,
  ).then(
    (key) => {
      // No key where the slots are served, and stores left out: they may hold some (see above).
      // A dispute that ended during the draw leaves none out: drawn again, from every store.
      if (key === undefined && clear.length < served.length) {
        const what = 'RANDOMKEY (no key in the stores whose slots are all served)';
        if (!disputedAt(c, p, what, NO_PREFIX)) answer(c, p);
        return;
      }
      c.queue.completeWith(p, (w) => {
        if (key === undefined) w.nil();
        else w.bulk(key);
      });
    },
    (err: unknown) => {
      c.queue.completeWith(p, (w) => {
        w.error(`TRYAGAIN ${err instanceof Error ? err.message : String(err)}`);
      });
    },
  );
}

/** drawKey draws a key from `stores`, tried in a random order (undefined when none holds a key). */
export async function drawKey(
  c: RespConnection,
  stores: readonly LocalTarget[],
  rand: () => number,
): Promise<Buffer | undefined> {
  const order = [...stores];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const t of order) {
    const key = await drawFrom(c, t, rand);
    if (key !== undefined) return key;
  }
  return undefined;
}

/** Page is what one read of a store found: its keys, and whether more may follow the last. */
interface Page {
  keys: Buffer[];
  more: boolean;
}

/** drawFrom draws a key of store `t` by descending its byte tree (see the design block). */
async function drawFrom(c: RespConnection, t: LocalTarget, rand: () => number): Promise<Buffer | undefined> {
  let prefix: Buffer = Buffer.alloc(0);
  // The prefix grows by a byte per step, and no key is longer than HARD_MAX_KEY_BYTES, whatever
  // max_key_bytes is now: lowered, it keeps the longer keys written before, and a draw bounded by
  // it stopped halfway down such keys and answered nil from a store holding keys.
  for (let depth = 0; depth <= HARD_MAX_KEY_BYTES; depth++) {
    const page = await read(c, t, prefix, undefined, RANDOM_PAGE_KEYS);
    if (!page.more || page.keys.length === 0) return page.keys[Math.floor(rand() * page.keys.length)];
    const after = Buffer.concat([prefix, Buffer.of(Math.floor(rand() * 256))]);
    let key = (await read(c, t, prefix, after, 1)).keys[0] ?? page.keys[0]!;
    if (key.length === prefix.length) {
      // The prefix is a key itself, and keys longer than it follow: descend along the next one.
      const next = (await read(c, t, prefix, key, 1)).keys[0];
      if (next === undefined) return key;
      key = next;
    }
    prefix = key.subarray(0, prefix.length + 1);
  }
  return undefined;
}

/** read reads up to `limit` keys of store `t` under `prefix` after `after` (bounded in bytes, as every scan page). */
async function read(
  c: RespConnection,
  t: LocalTarget,
  prefix: Buffer,
  after: Buffer | undefined,
  limit: number,
): Promise<Page> {
  const r = await c.ctx.pool.call(t.worker, {
    type: 'scan',
    store: t.store,
    prefix,
    after: after ?? null,
    limit,
    maxBytes: SCAN_PAGE_BYTES,
  });
  if (r.type !== 'scan-result') return { keys: [], more: false };
  return { keys: r.entries.map((e) => Buffer.from(e.key)), more: r.more };
}
