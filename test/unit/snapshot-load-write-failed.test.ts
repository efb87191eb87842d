/**
 * A snapshot load writes one chunk while it reads the next (src/replication/snapshot-load.ts). A
 * chunk's write that fails (ENOSPC: the replica's disk is full) before the next chunk arrives
 * must not be an unhandled rejection: in a shard worker (workers/shard-worker.ts) any unhandled
 * rejection but lmdb-js's "Commit failed" ends the thread, with every store it holds. The load
 * handles it at once and throws it at its next await of the write, its stream let go.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSnapshot } from '../../src/replication/snapshot-load.js';
import type { SnapshotStream } from '../../src/replication/source.js';
import type { SnapshotEntry, StoreReplication } from '../../src/storage/store-replication.js';

/** CHUNKS of the stream, one every CHUNK_MS: the failed write's rejection is unhandled that long. */
const CHUNKS = 4;
const CHUNK_MS = 60;
/** FAILING is the chunk (from 1) whose write fails. */
const FAILING = 2;

/** slowStream sends CHUNKS one-entry chunks, one every CHUNK_MS, and says when it was let go. */
function slowStream(): { stream: SnapshotStream; sent: () => number; letGo: () => boolean } {
  let sent = 0;
  let letGo = false;
  async function* chunks(): AsyncGenerator<SnapshotEntry[]> {
    try {
      for (let i = 0; i < CHUNKS; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, CHUNK_MS));
        sent++;
        yield [{ key: Buffer.from(`k${String(i)}`), value: Buffer.from('v') }];
      }
    } finally {
      letGo = sent < CHUNKS;
    }
  }
  return {
    stream: { seq: 10, chunks: chunks(), exactSeq: () => 10 },
    sent: () => sent,
    letGo: () => letGo,
  };
}

/** fullDisk is a replica store whose write of chunk FAILING fails at once with ENOSPC. */
function fullDisk(): StoreReplication {
  let writes = 0;
  const store: Pick<StoreReplication, 'loadSnapshotChunk' | 'finishSnapshot' | 'setHistory'> = {
    loadSnapshotChunk: () =>
      ++writes === FAILING
        ? Promise.reject(
            Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
          )
        : Promise.resolve(),
    finishSnapshot: () => Promise.resolve(),
    setHistory: () => undefined,
  };
  return store as StoreReplication;
}

describe('a snapshot load whose chunk write fails before the next chunk arrives', () => {
  it('throws the write error at its next await, with no unhandled rejection, and lets the stream go', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', record);
    const { stream, sent, letGo } = slowStream();
    try {
      const store = fullDisk();
      await assert.rejects(
        loadSnapshot(stream, {
          rebuild: () => Promise.resolve(store),
          reopen: () => Promise.resolve(store),
          stopped: () => false,
        }),
        /ENOSPC/,
      );
      // A rejection is reported unhandled once the microtasks after it ran: give it a turn.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', record);
    }
    assert.deepEqual(
      unhandled.map((r) => (r as Error).message),
      [],
      'the failed write was an unhandled rejection',
    );
    assert.equal(sent(), FAILING + 1, 'the error is thrown at the chunk after the failed one');
    assert.ok(letGo(), 'the stream was not let go');
  });
});
