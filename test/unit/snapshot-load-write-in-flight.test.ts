/**
 * A snapshot load writes one chunk while it reads the next (src/replication/snapshot-load.ts). When
 * the stream fails while a chunk's write is in flight (the leader's body cut), the load must not
 * throw before that write settles: the follower's next attempt rebuilds the same store (clears and
 * refills it), and a write still going into it would land in the middle of that rebuild. The
 * stream's error is what the load throws; the held write's own outcome is dropped, never left as an
 * unhandled rejection.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSnapshot } from '../../src/replication/snapshot-load.js';
import type { SnapshotStream } from '../../src/replication/source.js';
import type { SnapshotEntry, StoreReplication } from '../../src/storage/store-replication.js';

/** HELD_MS is how long the test waits, the stream already failed, before it releases the write. */
const HELD_MS = 100;

/** Held is a replica store whose chunk writes wait until released, and what happened to it. */
interface Held {
  store: StoreReplication;
  /** started resolves when the first chunk's write starts. */
  started: Promise<void>;
  /** release settles the write in flight: written, or failed with `err`. */
  release: (err?: Error) => void;
  inFlight: () => boolean;
}

/** heldStore is a replica store whose writes are held until `release`. */
function heldStore(): Held {
  let onStart: () => void = () => undefined;
  const started = new Promise<void>((r) => {
    onStart = r;
  });
  let settle: ((err?: Error) => void) | undefined;
  const store: Pick<StoreReplication, 'loadSnapshotChunk' | 'finishSnapshot' | 'setHistory'> = {
    loadSnapshotChunk: () =>
      new Promise<void>((resolve, reject) => {
        settle = (err) => {
          settle = undefined;
          if (err === undefined) resolve();
          else reject(err);
        };
        onStart();
      }),
    finishSnapshot: () => Promise.resolve(),
    setHistory: () => undefined,
  };
  return {
    store: store as StoreReplication,
    started,
    release: (err) => {
      settle?.(err);
    },
    inFlight: () => settle !== undefined,
  };
}

/** cutStream sends one chunk, then fails once `after` resolves, and says when it failed. */
function cutStream(after: Promise<void>): { stream: SnapshotStream; failed: Promise<void> } {
  let onFail: () => void = () => undefined;
  const failed = new Promise<void>((r) => {
    onFail = r;
  });
  async function* chunks(): AsyncGenerator<SnapshotEntry[]> {
    yield [{ key: Buffer.from('k0'), value: Buffer.from('v') }];
    await after;
    onFail();
    throw new Error('the leader cut the snapshot stream');
  }
  return { stream: { seq: 10, chunks: chunks(), exactSeq: () => 10 }, failed };
}

/** track tells whether `p` has settled yet, without handling its outcome for the caller. */
function track(p: Promise<unknown>): () => boolean {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}

describe('a snapshot load whose stream fails while a chunk write is in flight', () => {
  for (const outcome of ['written', 'failed'] as const) {
    it(`does not throw before the write settles (the write ${outcome}), then throws the stream's error`, async () => {
      const unhandled: unknown[] = [];
      const record = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', record);
      try {
        const held = heldStore();
        const { stream, failed } = cutStream(held.started);
        const load = loadSnapshot(stream, {
          rebuild: () => Promise.resolve(held.store),
          reopen: () => Promise.resolve(held.store),
          stopped: () => false,
        });
        const settled = track(load);
        await failed;
        await new Promise((r) => setTimeout(r, HELD_MS));
        assert.ok(held.inFlight(), 'the write was not in flight when the stream failed');
        assert.equal(settled(), false, 'the load threw while its chunk write was still in flight');
        held.release(outcome === 'failed' ? new Error('EIO: i/o error, write') : undefined);
        await assert.rejects(load, /the leader cut the snapshot stream/);
        // A rejection is reported unhandled once the microtasks after it ran: give it a turn.
        await new Promise((r) => setImmediate(r));
      } finally {
        process.off('unhandledRejection', record);
      }
      assert.deepEqual(
        unhandled.map((r) => (r as Error).message),
        [],
        'the held write was an unhandled rejection',
      );
    });
  }
});
