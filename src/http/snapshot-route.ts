/**
 * The snapshot stream of `GET /_repl/snapshot` (docs/replication.md, docs/api.md): once
 * repl-routes.ts has checked the request (token, config, shard, lease, a leader held behind), the
 * leader's state of the shard goes out as one snapshot stream (src/replication/snapshot-format.ts):
 *   header(seq S) page* end(exactSeq) crc32c
 * - The pages come from the shard's worker (`repl-snapshot`), each bounded in entries and bytes,
 *   every one read at the seq of the first, after the last key of the one before. The first page's
 *   seq goes out as `X-Distkv-Snapshot-Seq`, and `X-Distkv-Epoch` is the epoch of the leader's
 *   record at it by this node's live map (the replica's next pull names it); `X-Distkv-History`
 *   is the leader's history id, which the replica takes (src/replication/history-check.ts).
 * - The crc: the worker computes it over the pages it encodes (the last one through the end
 *   marker), from the header on, and hands it back with each page to be carried into the next;
 *   here it is continued over exactSeq (at least the leader's seq when the last page was read),
 *   and the two close the stream (encodeSnapshotEnd). The main thread does not pass over entries.
 * - The connection: a page is read only once the one before went out (the socket took it after the
 *   turn's flush, else `onWritable`): a client that reads nothing holds one page unsent, and the
 *   worker builds nothing ahead for it. A client that leaves (`onAborted`) ends the loop at its
 *   next turn. The stream's slot (repl-admission.ts: a few streams per store) is given back when
 *   the stream ends, however it ends. A leader held behind a replica while
 *   the pages were read cuts the stream before its end, so that no reader takes it for the shard.
 *   A failure is logged and closes the connection (the stream is then short: its reader refuses it).
 * - The stream of a replica (`replica=`) reports each page and its end to the leader's record of
 *   its replicas (replica-pulls.ts: `/cluster`'s `leader_view`, `resyncing`).
 */
import { toDistkvError } from '../errors.js';
import { encodeSnapshotEnd, encodeSnapshotHeader } from '../replication/snapshot-format.js';
import { epochOfSeq } from '../routing/version.js';
import type { Target } from '../server/node-plan.js';
import { SCAN_PAGE_BYTES } from '../storage/store.js';
import type { HttpContext } from './context.js';
import type { HttpResponse } from './http1-exchange.js';
import type { SnapshotNote } from './replica-pulls.js';

/**
 * SNAPSHOT_PAGE and SCAN_PAGE_BYTES bound a snapshot page: 10000 entries, or the entry that
 * brings their keys and values to 4 MiB, whichever comes first (so a page is at most 4 MiB plus
 * one value of at most `server.max_value_bytes`, and the entries' heads). A page is read from the
 * worker only once the page before went out: a connection's writes go out at the end of the turn
 * (http1-outflow.ts), so `write` reports back-pressure only from the write after; the stream waits
 * for that flush (`sent`) and asks again with an empty write. It holds at most one page unsent
 * (about 5 MiB with 1 MiB values), however large the shard; before, it asked for the next page at
 * once and held two, which 100 unread streams had the leader's worker build ahead of its writes
 * (test/e2e/unread-replication-streams.test.ts). It counts in `server.max_unsent_bytes` like any
 * connection and, holding no more than a client's answers may, is not exempt from it
 * (src/server/unsent-budget.ts).
 */
const SNAPSHOT_PAGE = 10000;

/**
 * serveSnapshot streams the snapshot of `shard`, led here by `t`, on `res` (see above), telling
 * `heard` of each page and of its end, and calls `done` once the stream ended (its slot: repl-admission.ts).
 * It registers the response's abort and writable callbacks before its first await, and answers or
 * closes the connection itself.
 */
export function serveSnapshot(
  ctx: HttpContext,
  res: HttpResponse,
  shard: number,
  t: Target & { local: true },
  heard: SnapshotNote | undefined,
  done: () => void,
): void {
  const state = { writable: undefined as (() => void) | undefined };
  res.onAborted(() => {
    state.writable?.();
  });
  res.onWritable(() => {
    state.writable?.();
    return true;
  });
  streamSnapshot(ctx, res, shard, t, state, heard).then(
    (complete) => {
      done();
      heard?.ended(complete);
    },
    (err: unknown) => {
      done();
      heard?.ended(false);
      ctx.log.error({ shard, err: toDistkvError(err).message }, 'snapshot stream failed');
      if (!res.aborted) res.close();
    },
  );
}

/**
 * snapshotEpoch is the epoch of `shard`'s record at `seq` by this node's live map: the map of the
 * leader, which a replica's may lag after a re-election.
 */
function snapshotEpoch(ctx: HttpContext, shard: number, seq: number): number {
  return epochOfSeq(ctx.liveMap.current.shards.find((s) => s.idx === shard)?.history ?? [], seq);
}

async function streamSnapshot(
  ctx: HttpContext,
  res: HttpResponse,
  shard: number,
  t: Target & { local: true },
  state: { writable: (() => void) | undefined },
  heard: SnapshotNote | undefined,
): Promise<boolean> {
  let seq: number | null = null;
  let after: Uint8Array | null = null;
  let crc: number | null = null;
  let started = false;
  for (;;) {
    const r = await ctx.pool.call(t.worker, {
      type: 'repl-snapshot',
      store: t.store,
      after,
      limit: SNAPSHOT_PAGE,
      maxBytes: SCAN_PAGE_BYTES,
      seq,
      crc,
    });
    if (r.type !== 'repl-snapshot-result') throw new Error(`unexpected ${r.type} for a snapshot page`);
    if (res.aborted) return false;
    const last = r.last;
    const body = new Uint8Array(r.buffer, 0, r.length);
    if (!started) {
      res
        .writeHeader('Content-Type', 'application/octet-stream')
        .writeHeader('X-Distkv-Snapshot-Seq', String(r.seq))
        .writeHeader('X-Distkv-Epoch', String(snapshotEpoch(ctx, shard, r.seq)));
      if (r.history !== null) res.writeHeader('X-Distkv-History', r.history);
      res.write(encodeSnapshotHeader(r.seq));
      started = true;
    }
    if (last) {
      // Held behind a replica while the pages were read: the stream is cut before its end, so
      // that no reader takes it for the shard (a backup or a replica copies it again, and is
      // then refused LEADER_BEHIND).
      if (ctx.liveMap.behindError(shard) !== undefined) {
        res.close();
        return false;
      }
      // Read after the last page: at least the leader's seq when that page was read; then the crc
      // of the whole stream, which the worker kept through its pages (snapshot-format.ts).
      res.write(body);
      heard?.page(r.length);
      res.end(encodeSnapshotEnd(Math.max(r.seq, ctx.pool.lastSeq(t.store)), r.crc));
      return true;
    }
    res.write(body);
    heard?.page(r.length);
    seq = r.seq;
    after = r.lastKey;
    crc = r.crc;
    await sent();
    if (isAborted(res)) return false;
    if (!res.write(EMPTY)) {
      await new Promise<void>((resolve) => {
        state.writable = resolve;
      });
      state.writable = undefined;
      if (isAborted(res)) return false;
    }
  }
}

/** EMPTY is the write that writes nothing and tells whether the socket took what came before. */
const EMPTY = new Uint8Array(0);

/** sent resolves after this turn's writes went to the socket (the flush runs on process.nextTick). */
function sent(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** isAborted reads the flag through a call, so TypeScript does not narrow it across awaits. */
function isAborted(res: HttpResponse): boolean {
  return res.aborted;
}
