/**
 * Replication with real stores in one process: 100k mixed sets and deletes over four
 * leader/replica pairs while random replicas are paused and resumed; afterwards every replica
 * equals its leader key by key. And a replica paused until its leader deleted the log it needed
 * resyncs from a snapshot and converges.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { seededRandom, testSeed } from '../helpers/random.js';
import { dump, ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('replication (in process)', () => {
  it('converges four replicas through 100k mixed writes with random pauses', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const dir = tempDir(after);
    const pairs = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        ReplicaPair.open(join(dir, `p${i}`), {
          memtableBytes: 256 * 1024,
          maxRuns: 3,
          walSegmentBytes: 256 * 1024,
        }),
      ),
    );
    const paused = new Set<number>();
    try {
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 100000; i++) {
        const p = pairs[i % 4]!;
        const key = Buffer.from(`k${Math.floor(random() * 5000)}`);
        ops.push(random() < 0.2 ? p.leader.delete(key) : p.leader.put(key, Buffer.from(`v${i}`)));
        if (ops.length >= 500) {
          await Promise.all(ops.splice(0));
          const which = Math.floor(random() * 4);
          if (random() < 0.05) {
            if (paused.has(which)) {
              pairs[which]!.resume();
              paused.delete(which);
            } else {
              await pairs[which]!.pause();
              paused.add(which);
            }
          }
        }
      }
      await Promise.all(ops);
      for (const w of paused) pairs[w]!.resume();
      for (const [i, p] of pairs.entries()) {
        await p.caughtUp(60000);
        assert.deepEqual(dump(p.replica), dump(p.leader), `pair ${i} (seed ${seed})`);
      }
    } finally {
      await Promise.all(pairs.map((p) => p.close()));
    }
  });

  it('resyncs a replica from a snapshot when its leader no longer has the log it needs', async () => {
    const p = await ReplicaPair.open(tempDir(after), {
      memtableBytes: 65536,
      walSegmentBytes: 65536,
      maxRuns: 2,
      ringBytes: 8192,
    });
    try {
      for (let i = 0; i < 200; i++) await p.leader.put(Buffer.from(`a${i}`), Buffer.from(`first-${i}`));
      await p.caughtUp();
      await p.pause();
      for (let i = 0; i < 3000; i++)
        await p.leader.put(Buffer.from(`b${i % 700}`), Buffer.alloc(200, i % 251));
      for (let i = 0; i < 100; i++) await p.leader.delete(Buffer.from(`a${i}`));
      await p.leader.idle();
      assert.equal(
        p.leader.replication.readLog(p.replica.lastSeq(), 1000),
        'gone',
        'the log the replica needs is gone',
      );
      p.resume();
      await p.caughtUp(60000);
      assert.ok(p.resyncs() >= 1, 'the replica resynced');
      assert.deepEqual(dump(p.replica), dump(p.leader));
      await p.leader.put(Buffer.from('after-resync'), Buffer.from('1'));
      await p.caughtUp();
      assert.equal(
        Buffer.from(p.replica.get(Buffer.from('after-resync'))!).toString(),
        '1',
        'it follows the log again after the snapshot',
      );
    } finally {
      await p.close();
    }
  });
});
