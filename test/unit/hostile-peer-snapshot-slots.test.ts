/**
 * A replica resyncs from a leader (a fake node: a node:http server on loopback) whose snapshot
 * holds keys outside the shard's slots (broken, hostile, or routing with another config). Those
 * entries are not loaded: counted (`outside`) and logged once per load naming the leader. Before,
 * they went into the replica store: never served (reads route by slot), but counted in DBSIZE and
 * INFO, and once the replica was promoted, sent on in its snapshots to its replicas and backups.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { loadSnapshot } from '../../src/replication/snapshot-load.js';
import { slotOf } from '../../src/routing/slot.js';
import type { SnapshotEntry, StoreReplication } from '../../src/storage/store-replication.js';
import { FakePeers, snapshotLeader, sourceOf } from '../helpers/fake-peer.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';

const peers = new FakePeers();

/** The shard's slots: the lower half. */
const FIRST = 0;
const LAST = 8191;

/** keysWhere returns `n` keys `k<i>` whose slot satisfies `ok`. */
function keysWhere(n: number, ok: (slot: number) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (ok(slotOf(`k${i}`))) out.push(`k${i}`);
  return out;
}

/** memoryStore is a replica store's replication seam that keeps what a snapshot loads into it. */
function memoryStore(loaded: SnapshotEntry[]): StoreReplication {
  const store = {
    epoch: 0,
    loadSnapshotChunk: (entries: readonly SnapshotEntry[]) => {
      loaded.push(...entries);
      return Promise.resolve();
    },
    finishSnapshot: () => Promise.resolve(),
  };
  return store as unknown as StoreReplication;
}

describe("a snapshot holding keys outside the shard's slots", () => {
  it('loads only the keys of its slots, and logs the others once, naming the leader', async () => {
    const inside = keysWhere(5, (s) => s >= FIRST && s <= LAST);
    const outside = keysWhere(3, (s) => s > LAST);
    const entries = [...inside, ...outside].map((k) => ({
      key: Buffer.from(k),
      value: Buffer.from('v'),
      seq: 3,
    }));
    const stream = snapshotStream(3, entries);
    const leader = await peers.start(snapshotLeader(stream));
    const source = sourceOf(leader, { copy: { idx: 0, name: 's0', first: FIRST, last: LAST } });
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    try {
      const loaded: SnapshotEntry[] = [];
      const store = memoryStore(loaded);
      const done = await loadSnapshot(await source.snapshot(), {
        rebuild: () => Promise.resolve(store),
        reopen: () => Promise.resolve(store),
        stopped: () => false,
        source,
        log,
      });
      assert.deepEqual(
        loaded.map((e) => Buffer.from(e.key).toString()),
        inside,
        'only the keys of the shard are in the store',
      );
      assert.equal(done.keys, inside.length);
      assert.equal(done.outside, outside.length);
      const said = lines.filter((l) => l.includes('outside the shard'));
      assert.equal(said.length, 1, lines.join(''));
      assert.match(
        said[0]!,
        new RegExp(`from http://${leader.replaceAll('.', '\\.')} shard 0 held 3 entries`),
      );
    } finally {
      await source.close();
      await peers.close();
    }
  });
});
