/**
 * Keyspace and server commands: SCAN, DBSIZE, WAIT (INFO: commands-info.ts). They cover the stores this node serves:
 * the shards whose leader is this node (after READONLY, also the replicas hosted at its address),
 * so a cluster client that scans every node sees every key once. SCAN and DBSIZE read outside the
 * op batches, so they start once the connection's earlier replies are complete (readAtHead):
 * a write pipelined before them is durable, hence in the store, when they read.
 * They and KEYS answer -TRYAGAIN while a leader store they would read answers no reads (held by a
 * failover, or without its lease: `heldAt`; -ERR LEADER_BEHIND's message for a leader that started
 * behind its replica, which serves nothing until a failover), or while a store they would read holds a slot a peer's config gives
 * another leader (`disputedAt`; src/server/slot-gate.ts): that leader may hold keys and writes the
 * answer would miss (RANDOMKEY leaves such stores out, random-key.ts; INFO counts them and says
 * so, `disputedServed`). INFO leaves out the keys of a held leader's store, and says so
 * (`readableServed`).
 */
import { globMatch, literalPrefix } from './glob.js';
import { behindPrefix, type LocalTarget } from './key-route.js';
import type { Pending } from './reply-queue.js';
import { END_CURSOR, parseCursor, type ScanPosition } from './scan-cursors.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import type { FromWorker, StoreStatsReport } from '../worker/messages.js';
import { OP_WAIT, ST_DONE } from '../worker/op-format.js';
import { entryBytes, SCAN_PAGE_BYTES } from '../storage/store.js';
import { parseInt64 } from '../worker/read-modify-write.js';
import { slotCount, type SlotRange } from '../routing/slot-dispute.js';
import { heldReadMessage, leaselessReadMessage } from '../server/map-keeper.js';

const NOT_INTEGER = 'ERR value is not an integer or out of range';
/** UNBLOCKED is a WAIT's answer when CLIENT UNBLOCK id ERROR ended it (redis-server 7.0's words). */
const UNBLOCKED = 'UNBLOCKED client unblocked via CLIENT UNBLOCK';
const DEFAULT_SCAN_COUNT = 10;
/** MAX_WAIT_MS caps WAIT's timeout (0 = "forever" in Redis) to what a timer can hold. */
const MAX_WAIT_MS = 2 ** 31 - 1;
/** WAIT_SLICE_MS is the longest wait WAIT leaves with a worker at once (waitAcks). */
const WAIT_SLICE_MS = 1000;

/** ServedStore is a local store holding this node's keys, with the index of its shard. */
export interface ServedStore {
  shard: number;
  target: LocalTarget;
}

/** servedShards lists the local stores holding this node's keys, in shard order. */
export function servedShards(c: RespConnection): ServedStore[] {
  const { listener, plan } = c.ctx;
  const out: ServedStore[] = [];
  for (const s of c.ctx.liveShards()) {
    const read = listener.reads[s.idx]!;
    if (c.readonly && read.local && plan.stores[read.store]!.node === listener.address)
      out.push({ shard: s.idx, target: read });
    else {
      const write = listener.writes[s.idx]!;
      if (write.local && s.address === listener.address) out.push({ shard: s.idx, target: write });
    }
  }
  return out.sort((a, b) => a.shard - b.shard);
}

/** servedStores lists the local stores holding this node's keys, in shard order. */
export function servedStores(c: RespConnection): LocalTarget[] {
  return servedShards(c).map((s) => s.target);
}

/** servedRanges are the slots of the stores this node serves (servedShards). */
function servedRanges(c: RespConnection): SlotRange[] {
  return servedShards(c).map((s) => c.ctx.shardMap.shard(s.shard).slots);
}

/** disputedServed counts the slots of the stores this node serves that a peer's config gives another leader. */
export function disputedServed(c: RespConnection): number {
  const gate = c.ctx.slotGate;
  return gate?.some === true ? slotCount(gate.disputedReads(servedRanges(c))) : 0;
}

/**
 * disputedAt answers `p` with -TRYAGAIN and returns true when the stores this node serves hold a
 * slot, among those the keys under `prefix` may hash to, that a peer's config gives another leader.
 */
export function disputedAt(c: RespConnection, p: Pending, what: string, prefix: Uint8Array): boolean {
  const gate = c.ctx.slotGate;
  if (gate?.some !== true) return false;
  const refusal = gate.readRefusal(what, servedRanges(c), prefix);
  if (refusal === undefined) return false;
  c.queue.completeWith(p, (w) => {
    w.error(`TRYAGAIN ${refusal.message}`);
  });
  return true;
}

/**
 * heldAt answers `p` with -TRYAGAIN and returns true when a leader store this node serves answers
 * no reads now: its writes held by a failover, or its lease lapsed (as a key read there,
 * key-route.ts, and an HTTP scan, collection-routes.ts). Its target may lead the shard already, and
 * the keys it lists could lack that leader's writes, or name keys it deleted.
 */
export function heldAt(c: RespConnection, p: Pending, what: string): boolean {
  for (const s of servedShards(c)) {
    // A leader that started behind its replica serves nothing of its shard until a failover (as a
    // key read here, key-route.ts): -ERR naming the replica and the command, not -TRYAGAIN "being
    // switched", which no switch ends (its writes are held too, so it read as a failover's hold);
    // -TRYAGAIN once it gave up its leader key for the replica to take over (behindPrefix).
    const behind = s.target.role === 'leader' ? c.ctx.behindError?.(s.shard) : undefined;
    if (behind !== undefined) {
      c.queue.completeWith(p, (w) => {
        w.error(`${behindPrefix(behind)} ${what}: ${behind.message}`);
      });
      return true;
    }
    const why = heldReason(c, s);
    if (why === undefined) continue;
    c.queue.completeWith(p, (w) => {
      w.error(`TRYAGAIN ${what}: ${why}`);
    });
    return true;
  }
  return false;
}

/** heldReason says why served store `s` answers no reads now (its writes held, or no lease), or undefined when it answers them. */
function heldReason(c: RespConnection, { shard, target }: ServedStore): string | undefined {
  if (c.ctx.leaderWithoutLease(target.role, shard)) return leaselessReadMessage(shard);
  return c.ctx.readsHeld?.(target.role, shard) === true ? heldReadMessage(shard) : undefined;
}

/**
 * readableServed splits the stores this node serves into those that answer reads now and those
 * heldAt refuses (with their slot count): INFO counts the keys of the first only, as DBSIZE would.
 */
export function readableServed(c: RespConnection): { readable: LocalTarget[]; heldSlots: number } {
  const readable: LocalTarget[] = [];
  let heldSlots = 0;
  for (const s of servedShards(c))
    if (heldReason(c, s) === undefined) readable.push(s.target);
    else heldSlots += slotCount([c.ctx.shardMap.shard(s.shard).slots]);
  return { readable, heldSlots };
}

/** unreadableAt answers `p` with -TRYAGAIN and returns true when heldAt or disputedAt would. */
export function unreadableAt(c: RespConnection, p: Pending, what: string, prefix: Uint8Array): boolean {
  return heldAt(c, p, what) || disputedAt(c, p, what, prefix);
}

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
  const prefix = Buffer.from(pattern === undefined ? '' : literalPrefix(pattern), 'latin1');
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
  return countKeys(storeStats(await c.ctx.pool.callAll({ type: 'stats' })), stores);
}

/** storeStats are the stores' entries of a stats round's results. */
export function storeStats(results: readonly FromWorker[]): StoreStatsReport[] {
  return results.flatMap((r) => (r.type === 'stats-result' ? r.stores : []));
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

/**
 * wait: WAIT numreplicas timeout. Answers how many replicas hold every write this connection made
 * (per store: the seq of its last acknowledged write; with none, each served store's current seq),
 * once `numreplicas` do (0 or less: at once) or after `timeout` ms (0 = no limit), like a `w=N` write.
 * It starts once the connection's earlier replies are complete, so the writes before it count.
 */
export function wait(c: RespConnection, args: Buffer[]): void {
  const wanted = parseInt64(args[1]!.toString('latin1'));
  const given = parseInt64(args[2]!.toString('latin1'));
  if (wanted === undefined || given === undefined || given < 0n) {
    const why = given === undefined ? 'not an integer or out of range' : 'negative';
    c.queue.now(c.proto).error(wanted === undefined ? NOT_INTEGER : `ERR timeout is ${why}`);
    return;
  }
  const n = wanted < 0n ? 0 : Number(wanted < 255n ? wanted : 255n);
  const timeout = Number(given < BigInt(MAX_WAIT_MS) ? given : BigInt(MAX_WAIT_MS));
  const p = c.queue.later(c.proto, () => undefined);
  // Once the replies before it are complete, so the writes pipelined before WAIT are acknowledged
  // and counted (read at once, a new connection's WAIT waited for the seq before its own SET).
  c.readAtHead(p, () => {
    waitAcks(c, p, n, timeout);
  });
}

/**
 * waitAcks sends WAIT's seqs to the stores' workers and answers at `p` with the fewest acks.
 *
 * A store's wait goes to its worker in slices of at most WAIT_SLICE_MS, each sent again while
 * fewer replicas than `n` hold the seq, the timeout has not passed and the client has not hung up. A
 * worker cannot be told that a client went away: one wait of the whole timeout (24 days for
 * `WAIT n 0`) outlived its connection, so clients that time out and reconnect while a replica is
 * down piled up waiters (and `blocked_clients`) without bound. Now the WAIT of a client that closed
 * the connection (or shut down its side) ends within a slice.
 */
function waitAcks(c: RespConnection, p: Pending, n: number, timeout: number): void {
  const { pool } = c.ctx;
  const waits: [number, number][] =
    c.lastWrites.size > 0
      ? [...c.lastWrites]
      : servedStores(c)
          .filter((t) => t.role === 'leader')
          .map((t) => [t.store, pool.lastSeq(t.store)]);
  if (waits.length === 0) {
    c.queue.completeWith(p, (w) => {
      w.integer(0);
    });
    return;
  }
  let remaining = waits.length;
  let least = Infinity;
  let ended = false;
  const release = (): void => {
    ended = true;
    c.ctx.stats.blocked--;
    c.blocked = false;
    c.unblock = undefined;
  };
  c.ctx.stats.blocked++;
  c.blocked = true;
  // CLIENT UNBLOCK: with ERROR the UNBLOCKED error; else, as a timeout, the replicas that hold
  // the seqs now (each store asked once more with n = 0, answered at once).
  c.unblock = (error) => {
    release();
    if (error) {
      c.queue.completeWith(p, (w) => {
        w.error(UNBLOCKED);
      });
      return;
    }
    let left = waits.length;
    let now = Infinity;
    for (const [store, seq] of waits)
      waitStore(
        c,
        store,
        seq,
        0,
        Date.now(),
        () => true,
        (acked) => {
          now = Math.min(now, acked);
          if (--left === 0)
            c.queue.completeWith(p, (w) => {
              w.integer(now);
            });
        },
      );
  };
  const deadline = Date.now() + (timeout === 0 ? MAX_WAIT_MS : timeout);
  // A stopping node answers with the replicas that hold the seqs then: its workers answer the
  // slice parked at once (src/worker/replica-waits.ts), and the stop waits for the reply.
  const over = (): boolean => ended || c.hungUp || c.ctx.draining();
  for (const [store, seq] of waits)
    waitStore(c, store, seq, n, deadline, over, (acked, last) => {
      if (ended || !last) return;
      least = Math.min(least, acked);
      if (--remaining > 0 && !c.hungUp) return;
      release();
      c.queue.completeWith(p, (w) => {
        w.integer(least);
      });
    });
}

/**
 * waitStore waits in slices (see waitAcks) until `n` replicas of `store` hold `seq`, `deadline`
 * or `over()`, and calls `report` with their count after each slice (`last` after the final one).
 */
function waitStore(
  c: RespConnection,
  store: number,
  seq: number,
  n: number,
  deadline: number,
  over: () => boolean,
  report: (acked: number, last: boolean) => void,
): void {
  const { plan, pool } = c.ctx;
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeDoubleLE(seq, 0);
  const slice = (): void => {
    pool.submit(
      plan.stores[store]!.worker,
      OP_WAIT,
      store,
      '',
      seqBytes,
      {
        onReply: (status, acked) => {
          const count = status === ST_DONE ? acked : 0;
          const last = count >= n || over() || Date.now() >= deadline || status !== ST_DONE;
          report(count, last);
          if (!last) slice();
        },
      },
      n,
      Math.max(1, Math.min(WAIT_SLICE_MS, deadline - Date.now())),
    );
  };
  slice();
}
