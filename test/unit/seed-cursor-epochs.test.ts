/**
 * The seed's replication cursor across a new epoch (src/replication/seed-cursor.ts). A leader that
 * restarts after an unclean stop in a lossy durability mode loses its unsynced tail and gives those
 * seqs to new writes, in a restart epoch (src/server/restart-epochs.ts). Its seed cursor, synced
 * at a seq above what the store recovered, skipped the new changes at seqs up to it: the seed's
 * replica never got them. The cursor keeps its epoch and goes back to the fork, as a replica's
 * position would.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SeedCursors } from '../../src/replication/seed-cursor.js';
import type { EpochStart } from '../../src/routing/live-map.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { tempDir } from '../helpers/temp-dir.js';

/** leaderWith is a leader store holding `writes` in order (seqs 1..), and its seed cursors in `dir`. */
async function leaderWith(
  dir: string,
  writes: string[],
  epoch: number,
  history: EpochStart[],
): Promise<SeedCursors> {
  const store = new MemoryStore(Date.now, new MemoryLog());
  for (const w of writes) await store.put(Buffer.from(w), Buffer.from(`${w}-value`));
  const log = store.replication!;
  return new SeedCursors(() => ({ dir, log, epochs: { epoch, history } }));
}

describe('the seed cursor', () => {
  it("goes back to the fork when its leader's new epoch gave its seqs to other changes", async () => {
    const dir = tempDir(after);
    const first = [{ epoch: 1, firstSeq: 1 }];
    const before = await leaderWith(dir, ['a1', 'a2', 'a3', 'a4', 'a5'], 1, first);
    for (const k of ['a1', 'a2', 'a3', 'a4', 'a5']) assert.ok(before.ack([0], k, `${k}-value`), k);
    assert.equal(before.next([0]), undefined);

    // Restarted after a power cut: it recovered 1..3 and leads epoch 2 from seq 4, where it took b4..b6.
    const restarted = await leaderWith(dir, ['a1', 'a2', 'a3', 'b4', 'b5', 'b6'], 2, [
      ...first,
      { epoch: 2, firstSeq: 4 },
    ]);
    const seen: string[] = [];
    for (let n = restarted.next([0]); n !== undefined; n = restarted.next([0])) {
      seen.push(`${n.seq}:${n.key}`);
      assert.ok(restarted.ack([0], n.key, n.value));
    }
    assert.deepEqual(seen, ['4:b4', '5:b5', '6:b6'], 'the seed replica missed new changes');
  });

  it('stays where it is when the new epoch starts above it', async () => {
    const dir = tempDir(after);
    const first = [{ epoch: 1, firstSeq: 1 }];
    const before = await leaderWith(dir, ['a1', 'a2'], 1, first);
    for (const k of ['a1', 'a2']) assert.ok(before.ack([0], k, `${k}-value`));
    const restarted = await leaderWith(dir, ['a1', 'a2', 'a3', 'b4'], 2, [
      ...first,
      { epoch: 2, firstSeq: 4 },
    ]);
    assert.equal(restarted.next([0])?.key, 'a3');
  });
});
