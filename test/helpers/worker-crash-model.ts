/**
 * Every kind of key op through a power cut, checked against a model: the shard worker's op path
 * (ShardHost, on the calling thread) over two LSM stores sharing one commit log on a FaultyVfs
 * whose syncs take turns, so that batches are written and not yet synced when the power goes.
 *
 * Each round sends random batches of every op kind the front doors send (PUT and DELETE; PUT with
 * an expiry; If-Match / If-None-Match / If-Exists puts and deletes; keep-TTL puts; EXPIRE and
 * PERSIST as keep-value puts; two-key transactions with puts and deletes; INCR, INCRBY as an edit,
 * APPEND; SET with NX / XX and GET, with an expiry, one already past, or KEEPTTL; counted DELETE;
 * GETEX; EXPIRE with NX / XX / GT / LT, to a time ahead or past; GET and the expiry read), then
 * cuts the power at a random turn (the unsynced tail lost, torn, or kept page by page), reopens
 * the stores on what survived and reads every key's value, version and expiry.
 *
 * The model runs the ops in the order the worker does (it issues each key's ops in arrival order)
 * and keeps each key's history: its state (value and expiry) after each write. After recovery
 * every key must be at one point of its history (a write is there wholly or not at all), no
 * earlier than the newest state a reply told of: an acknowledged write, or the state an op read
 * that wrote nothing (a SET NX that found the key, an EXPIRE whose GT did not hold, a failed
 * If-Match, a GET...), since the worker answers those only once what they read is durable. Each
 * reply must be the model's (a conditional write's outcome is the one the client was told); a key
 * at an acknowledged write holds that write's seq as its version; a transaction's writes are all
 * there or none. A replica of one of the stores, on the same worker, recovers from the same cut and,
 * caught up, must hold exactly its leader's keys, versions and expiries. Most expiries are far
 * ahead (or already past); some puts get a TTL of a few ms, so the reaper logs expire records as
 * the power goes: until a blind write replaces such a key the model predicts nothing about it, and
 * after the restart (past every such TTL) it must be gone. Writes that refused (the disk went) are
 * not in the model's acknowledged set, and may be there or not, as any write in flight; an op that
 * read a key after such a write is not checked (it may have run once the write failed). Between
 * cuts a failed fdatasync sometimes refuses a batch (the power staying on; other batches may be
 * in flight beside it, and the failure may be reported after their syncs returned): every key is
 * then read back, must hold neither a refused write nor less than what was acknowledged, and the
 * model goes on from what it holds.
 *
 * The ops and the model's histories: test/helpers/worker-crash-ops.ts. Used by
 * test/unit/worker-ops-power-loss.test.ts (a few seeded rounds) and
 * test/robustness/worker-ops-power-loss.test.ts (many).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { RETRY_MS } from '../../src/storage/commit-log-failure.js';
import { OP_GET, OP_GET_EXPIRY, ST_ERROR, ST_MISSING, ST_VALUE } from '../../src/worker/op-format.js';
import {
  batchFiller,
  type Expect,
  isShort,
  KEYS,
  liveAt,
  type Point,
  type State,
  STORES,
  statusFits,
} from './worker-crash-ops.js';
import { seededRandom } from './random.js';
import { type ControlHost, openSpecHost, runOps, testStoreSpec, untilReplies } from './worker-host.js';

/** CrashRunOptions: the seed and how many power cuts. */
export interface CrashRunOptions {
  seed: number;
  rounds: number;
  /** batches is the most batches a round sends before its cut. */
  batches: number;
}

/** CrashRunReport counts what a run did. */
export interface CrashRunReport {
  ops: number;
  acked: number;
  inFlightKept: number;
  inFlightLost: number;
  /** replicaKeys sums the keys the replica held, caught up, after each cut. */
  replicaKeys: number;
  /** refused counts the writes a failed fdatasync refused (the power staying on). */
  refused: number;
}

function specOf(dir: string, index: number): StoreSpec {
  const spec = testStoreSpec(dir, index);
  return {
    ...spec,
    // Small memtables, segments and no retention: flushes, compactions and trims happen mid-round.
    lsm: { ...spec.lsm, memtableBytes: 2048, maxRuns: 2, walSegmentBytes: 4096, walRetentionBytes: 0 },
  };
}

/** replicaSpecOf is store `index`, a replica of store `leader` (in this worker) on another node. */
function replicaSpecOf(dir: string, index: number, leader: number): StoreSpec {
  const spec = specOf(dir, leader);
  return {
    ...spec,
    index,
    node: '127.0.0.1:2',
    dir: join(dir, 'replica-node', spec.shard.name),
    role: 'replica',
    replication: {
      leaderAddress: '127.0.0.1:1',
      leaderStore: leader,
      token: '',
      scheme: 'http',
      tlsCa: '',
      pullMaxBytes: 1 << 20,
      pullWaitMs: 20,
      configHash: '',
    },
  };
}

/** Keyed is every key's GET and GET_EXPIRY reply on a store (status, version seq, value; expiry). */
type Keyed = Record<string, { status: number; seq: number; value: string; expiry: string }>;

/** readAll reads every key of stores `stores` (GET and GET_EXPIRY), by store. */
async function readAll(h: ControlHost, stores: number[], nextId: () => number): Promise<Keyed[]> {
  const ids: { store: number; key: string; id: number }[] = [];
  runOps(h.host, (w) => {
    for (const store of stores)
      for (const key of KEYS) {
        const id = nextId();
        ids.push({ store, key, id });
        w.add(id, OP_GET, store, key, undefined);
        w.add(nextId(), OP_GET_EXPIRY, store, key, undefined);
      }
  });
  await untilReplies(
    h.replies,
    ids.flatMap((r) => [r.id, r.id + 1]),
  );
  return stores.map((store) =>
    Object.fromEntries(
      ids
        .filter((r) => r.store === store)
        .map((r) => {
          const g = h.replies.get(r.id)!;
          const e = h.replies.get(r.id + 1)!;
          return [
            r.key,
            {
              status: g.status,
              seq: g.seq,
              value: g.value.toString('latin1'),
              expiry: e.value.toString('hex'),
            },
          ];
        }),
    ),
  );
}

/**
 * replicaConverges waits (up to 10 s) until store `replica` holds exactly what store `leader` does:
 * every key's value, version and expiry; fails with the difference otherwise. Returns how many keys it holds.
 */
async function replicaConverges(
  h: ControlHost,
  leader: number,
  replica: number,
  nextId: () => number,
  where: string,
): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [l, r] = await readAll(h, [leader, replica], nextId);
    if (Date.now() > deadline || JSON.stringify(l) === JSON.stringify(r)) {
      assert.deepEqual(
        r,
        l,
        `${where}: the replica, caught up, holds its leader's keys, versions and expiries`,
      );
      return Object.values(r!).filter((e) => e.status === ST_VALUE).length;
    }
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** lastKnown is the index of the last point at or before `at` that was read back from the store (op 0). */
function lastKnown(points: readonly Point[], at: number): number {
  for (let i = Math.min(at, points.length - 1); i > 0; i--) if (points[i]!.op === 0) return i;
  return 0;
}

/** sleepByClock waits until Date.now() has moved on `ms` (the log's refusal ends by Date.now()). */
async function sleepByClock(ms: number): Promise<void> {
  const until = Date.now() + ms + 1;
  while (Date.now() < until) await new Promise((r) => setTimeout(r, until - Date.now()));
}

/**
 * resync reads every leader key back after a refused batch (every reply in, the refusal over) and
 * checks it holds a point of its history since it was last read back, no earlier than its last
 * acknowledged write and not one a refused write left. That state becomes the key's newest point
 * (op 0): the model computed the ops after a refused one from a state that never was. Returns how
 * many writes were refused.
 */
async function resync(
  h: ControlHost,
  hist: Map<string, Point[]>[],
  expected: Map<number, Expect>,
  nextId: () => number,
  where: string,
): Promise<number> {
  // The keys an op touched since they were last read that was refused, or answered otherwise than
  // the model said (it ran on what the store held, not on a refused write the model took as done):
  // their state is not the model's to predict, only that no refused write shows.
  const unknown = new Set<string>();
  for (const [op, e] of expected) {
    const got = h.replies.get(op);
    if (got !== undefined && got.status !== ST_ERROR && statusFits(e, got.status)) continue;
    for (const p of [...e.reads, ...e.writes])
      if (p.at >= lastKnown(hist[p.store]!.get(p.key)!, Infinity)) unknown.add(`${p.store}/${p.key}`);
  }
  const stores = Array.from({ length: STORES }, (_, i) => i);
  const before = Date.now();
  const got = await readAll(h, stores, nextId);
  const after = Date.now();
  let refused = 0;
  for (const store of stores)
    for (const key of KEYS) {
      const points = hist[store]!.get(key)!;
      const from = lastKnown(points, Infinity);
      const r = got[store]![key]!;
      const state: State =
        r.status === ST_VALUE
          ? { value: r.value, exp: Buffer.from(r.expiry, 'hex').readDoubleLE(0) }
          : { value: undefined, exp: 0 };
      const status = (p: Point): number | undefined => h.replies.get(p.op)?.status;
      let acked = from;
      points.forEach((p, i) => {
        if (i <= from) return;
        if (status(p) === ST_ERROR) refused++;
        else if (status(p) !== undefined) acked = i;
      });
      const shows = (p: Point, now: number): boolean => {
        const l = liveAt(p, now);
        return l.value === state.value && (state.value === undefined || l.exp === state.exp);
      };
      const shown = (p: Point): boolean => shows(p, before) || shows(p, after);
      const ok = unknown.has(`${store}/${key}`)
        ? // Not a refused write's state alone (values are drawn at random: another op may have
          // written the same by chance, a risk of about one in 9000 per such key).
          !points.some((p, i) => i > from && status(p) === ST_ERROR && shown(p)) ||
          points.some((p, i) => (i === from || (i > from && status(p) !== ST_ERROR)) && shown(p))
        : points.some((p, i) => i >= acked && (i === from || status(p) !== ST_ERROR) && shown(p));
      assert.ok(
        ok,
        `${where}: after a refused batch, store ${store} key ${key} is ${JSON.stringify(state)}; its history since it was last read is ${JSON.stringify(points.slice(from).map((p) => ({ ...p, status: status(p) })))}`,
      );
      points.push({ ...state, op: 0, ...(state.value === undefined ? {} : { seq: r.seq }) });
    }
  return refused;
}

/** withTimeout settles with `p` or, after `ms`, with undefined (a crashed host's close may wait for good). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => {
      clearTimeout(timer);
    }),
    new Promise<undefined>((r) => {
      timer = setTimeout(() => {
        r(undefined);
      }, ms);
    }),
  ]);
}

/** runWorkerPowerLoss runs `rounds` power cuts under random op batches of every kind and checks each recovery; throws on a mismatch. */
export async function runWorkerPowerLoss(root: string, o: CrashRunOptions): Promise<CrashRunReport> {
  const rnd = seededRandom(o.seed);
  // The leaders, and a replica of store 0 on the same worker (its log, fed its leader's batches).
  const specs = [
    ...Array.from({ length: STORES }, (_, i) => specOf(root, i)),
    replicaSpecOf(root, STORES, 0),
  ];
  const report: CrashRunReport = {
    ops: 0,
    acked: 0,
    inFlightKept: 0,
    inFlightLost: 0,
    replicaKeys: 0,
    refused: 0,
  };
  let vfs = new FaultyVfs();
  vfs.syncTurns = 1;
  let h: ControlHost = await openSpecHost(specs, vfs);
  // hist[store][key]: the key's history this round; its last point is its newest state.
  let hist: Map<string, Point[]>[] = specs.map(
    () => new Map(KEYS.map((k) => [k, [{ value: undefined, exp: 0, op: 0 }]])),
  );
  let id = 0;
  try {
    for (let round = 0; round < o.rounds; round++) {
      const where = `round ${round} (seed ${o.seed})`;
      const expected = new Map<number, Expect>();
      const fill = batchFiller({ rnd, hist, expected, replies: h.replies, nextId: () => ++id });

      const batches = 1 + Math.floor(rnd() * o.batches);
      for (let b = 0; b < batches; b++) {
        // Sometimes the disk refuses a batch with writes (a failed fdatasync: DISK_FULL), the
        // power staying on: its writes, and those in flight with it, must never show.
        // Other batches may be in flight beside it, and the failure may be reported after their
        // syncs returned: those are refused with it or, acknowledged, written again before the cut.
        const refuse = rnd() < 0.08;
        const failTurns = Math.floor(rnd() * 8);
        const before = id;
        const armed = { on: false };
        runOps(h.host, (w) => {
          fill(w);
          armed.on = refuse && [...expected].some(([op, e]) => op > before && e.writes.length > 0);
          if (armed.on) vfs.failSyncs(1, failTurns);
        });
        if (armed.on) {
          await untilReplies(h.replies, [...expected.keys()]);
          await sleepByClock(RETRY_MS);
          report.refused += await resync(h, hist, expected, () => ++id, where);
          continue;
        }
        const pause = rnd();
        if (pause < 0.15) await untilReplies(h.replies, [...expected.keys()]);
        else if (pause < 0.6) {
          const turns = Math.floor(rnd() * 4);
          for (let t = 0; t < turns; t++) await new Promise((res) => setImmediate(res));
        }
      }
      report.ops += expected.size;
      const turns = Math.floor(rnd() * 5);
      for (let t = 0; t < turns; t++) await new Promise((res) => setImmediate(res));
      const tear = rnd();
      const rebooted = vfs.crash(tear < 0.35 ? 'pages' : tear < 0.7, rnd, 512);
      // What the crashed host answers as its writes fail is part of what it told its clients.
      await withTimeout(
        h.host.close().catch(() => undefined),
        5000,
      );
      const replies = h.replies;
      const opsOf = (store: number, key: string): string =>
        [...expected]
          .filter(([, e]) => [...e.reads, ...e.writes].some((p) => p.store === store && p.key === key))
          .map(([op, e]) => {
            const got = replies.get(op);
            const told =
              got === undefined
                ? 'no answer'
                : `answered ${got.status} seq ${got.seq} ${JSON.stringify(got.value.toString('latin1'))}`;
            return `op ${op} ${e.what} (read ${JSON.stringify(e.reads)}, wrote ${JSON.stringify(e.writes)}): ${told}`;
          })
          .join('; ');
      assert.deepEqual(h.answeredTwice, [], `${where}: ops answered twice`);

      // Every reply must be the model's, and tells what must have survived.
      // A key is at least at its last state read back (after a refused batch).
      const atLeast = hist.map((m) => new Map(KEYS.map((k) => [k, lastKnown(m.get(k) ?? [], Infinity)])));
      /** failedBefore tells whether a write of `p`'s key since its last known state, up to point `p`, failed (refused, or the power went under it). */
      const failedBefore = (p: { store: number; key: string; at: number }): boolean => {
        const points = hist[p.store]!.get(p.key)!;
        return points.slice(lastKnown(points, p.at) + 1, p.at + 1).some((q) => {
          // Refused, or answered otherwise than the model said (it ran on what the store held).
          const got = replies.get(q.op)?.status;
          const want = expected.get(q.op);
          return got === ST_ERROR || (got !== undefined && (want === undefined || !statusFits(want, got)));
        });
      };
      const raise = (p: { store: number; key: string; at: number }): void => {
        const m = atLeast[p.store]!;
        m.set(p.key, Math.max(m.get(p.key)!, p.at));
      };
      for (const [op, want] of expected) {
        const got = replies.get(op);
        // No answer, or an error: the power went first (an op the model expects to fail, an INCR
        // of a value that is not an integer, fails either way).
        if (got === undefined || got.status === ST_ERROR) continue;
        // An op of a key whose write in flight failed under the cut may have been answered against
        // what the store held before that write: a read or a conditional write that waited for it
        // (store-reads.ts, conditional-writes.ts), or any op queued behind such a write's key gate
        // (op-runner.ts), run once it failed. Not the model's answer, and it proves nothing new.
        if (want.reads.some(failedBefore)) continue;
        const detail = `${where}: op ${op} ${want.what} (expected ${want.status} ${JSON.stringify(want.value?.toString('latin1'))}, got ${got.status} ${JSON.stringify(got.value.toString('latin1'))})`;
        if (!statusFits(want, got.status))
          assert.equal(
            got.status,
            want.status,
            `${detail}: status; the key's ops: ${want.reads.map((p) => opsOf(p.store, p.key)).join(' | ')}`,
          );
        if (want.value !== undefined)
          assert.deepEqual(
            got.value,
            want.value,
            `${detail}: reply value; the key's ops: ${want.reads.map((p) => opsOf(p.store, p.key)).join(' | ')}`,
          );
        want.reads.forEach(raise);
        want.writes.forEach(raise);
        if (want.writes.length > 0) report.acked++;
        if (!want.txn) for (const wr of want.writes) hist[wr.store]!.get(wr.key)![wr.at]!.seq = got.seq;
      }

      // Past every short TTL of the round: each must be gone after the restart (the reaper's
      // expire record for it kept or lost with the cut).
      const shortest = hist.flatMap((m) => [...m.values()].flat().filter((p) => isShort(p.exp)));
      const due = Math.max(0, ...shortest.map((p) => p.exp));
      while (Date.now() <= due) await new Promise((res) => setTimeout(res, due + 1 - Date.now()));
      const now = Date.now();
      /** sameAs tells whether history point `p` shows as the observed state `st` now. */
      const sameAs = (p: Point, st: State): boolean => {
        const l = liveAt(p, now);
        return l.value === st.value && (st.value === undefined || l.exp === st.exp);
      };
      const seen = new Map<string, State>();
      vfs = rebooted;
      h = await openSpecHost(specs, vfs);
      const base = id + 1;
      const reads: { store: number; key: string; id: number }[] = [];
      runOps(h.host, (w) => {
        for (let store = 0; store < STORES; store++)
          for (const key of KEYS) {
            reads.push({ store, key, id: ++id });
            w.add(id, OP_GET, store, key, undefined);
            w.add(++id, OP_GET_EXPIRY, store, key, undefined);
          }
      });
      await untilReplies(
        h.replies,
        Array.from({ length: id - base + 1 }, (_, i) => base + i),
      );
      const next = specs.map(() => new Map<string, Point[]>());
      for (const { store, key, id: rid } of reads) {
        const g = h.replies.get(rid)!;
        const e = h.replies.get(rid + 1)!;
        assert.ok(
          g.status === ST_VALUE || g.status === ST_MISSING,
          `${where}: GET ${store}/${key}: ${g.status} ${g.value.toString()}`,
        );
        const state: State =
          g.status === ST_VALUE
            ? { value: g.value.toString(), exp: e.status === ST_VALUE ? e.value.readDoubleLE(0) : -1 }
            : { value: undefined, exp: 0 };
        const points = hist[store]!.get(key)!;
        const from = atLeast[store]!.get(key)!;
        const matches = points.map((p, i) => ({ p, i })).filter(({ p, i }) => i >= from && sameAs(p, state));
        seen.set(`${store}/${key}`, state);
        assert.ok(
          matches.length > 0,
          `${where}: store ${store} key ${key} recovered as ${JSON.stringify(state)}; its history from the newest state a reply told of (${from}) is ${JSON.stringify(points.slice(from))}, before it ${JSON.stringify(points.slice(0, from))}; its ops: ${opsOf(store, key)}`,
        );
        if (state.value !== undefined) {
          const known = matches.filter(({ p }) => p.seq !== undefined);
          if (known.length === matches.length)
            assert.ok(
              known.some(({ p }) => p.seq === g.seq),
              `${where}: store ${store} key ${key} holds version seq ${g.seq}; the writes it can be had ${JSON.stringify(known.map(({ p }) => p.seq))}`,
            );
        }
        const last = Math.max(...matches.map(({ i }) => i));
        if (last > from) report.inFlightKept++;
        if (last < points.length - 1 && points.length - 1 > from) report.inFlightLost++;

        next[store]!.set(key, [{ ...state, op: 0, ...(state.value === undefined ? {} : { seq: g.seq }) }]);
      }
      // A transaction's writes are there together or not at all.
      for (const [op, want] of expected) {
        if (!want.txn || want.writes.length === 0) continue;
        const there = want.writes.map((wr) => {
          const points = hist[wr.store]!.get(wr.key)!;
          const state = seen.get(`${wr.store}/${wr.key}`)!;
          // Which points the recovered state can be: all at or after the write, or all before it.
          const all = points
            .map((p, i) => ({ p, i }))
            .filter(({ p, i }) => i >= atLeast[wr.store]!.get(wr.key)! && sameAs(p, state));
          return all.every(({ i }) => i >= wr.at) ? 'yes' : all.every(({ i }) => i < wr.at) ? 'no' : 'either';
        });
        assert.ok(
          !(there.includes('yes') && there.includes('no')),
          `${where}: transaction op ${op} is there in part: ${JSON.stringify(want.writes.map((wr, i) => ({ ...wr, there: there[i] })))}`,
        );
      }
      hist = next;
      // The replica of store 0 recovered from the same cut: caught up, it is its leader exactly.
      report.replicaKeys += await replicaConverges(h, 0, STORES, () => ++id, where);
    }
  } finally {
    await withTimeout(
      h.host.close().catch(() => undefined),
      5000,
    );
  }
  return report;
}
