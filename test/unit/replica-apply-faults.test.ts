/**
 * A pulling replica (its own commit log, as a replica on another worker or process) whose apply
 * of a pulled batch throws partway (the memtable could not grow, a record it cannot take): the
 * batch's records are all in its log by then, and only some are in its memtable. It must not pull
 * on top of that log (the next pull starts inside the batch its log already holds), nor keep
 * serving a memtable that lacks records its log holds: it resyncs from its leader and converges.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FollowerPosition } from '../../src/replication/follower.js';
import { dump, ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** replicaWrites reaches into the replica's LsmReplication for the hook it applies records through (fault injection only). */
function replicaWrites(pair: ReplicaPair): { applyRecord: (...a: never[]) => void } {
  return (pair.replica.replication as unknown as { store: ReturnType<typeof replicaWrites> }).store;
}

describe('a pulling replica whose apply throws partway through a batch', () => {
  it('resyncs and converges on its leader, never acking past what its memtable holds', async () => {
    const positions: { p: FollowerPosition; held: number }[] = [];
    const pair = await ReplicaPair.open(tempDir(after), {
      pullWaitMs: 50,
      onPublish: (p, replica) => {
        positions.push({ p, held: replica.lastSeq() });
      },
    });
    try {
      await pair.leader.put(b('first'), b('1'));
      await pair.caughtUp();
      await pair.pause();
      for (let i = 0; i < 6; i++) await pair.leader.put(b(`k${i}`), b(`v${i}`));
      // The third record of the next pulled batch cannot be applied (once).
      const hooks = replicaWrites(pair);
      const apply = hooks.applyRecord;
      let calls = 0;
      hooks.applyRecord = (...a: never[]) => {
        if (++calls === 3) {
          hooks.applyRecord = apply;
          throw new RangeError('Array buffer allocation failed');
        }
        apply(...a);
      };
      pair.resume();
      await pair.caughtUp(5000);
      for (let i = 0; i < 3; i++) await pair.leader.put(b(`after${i}`), b(`w${i}`));
      await pair.caughtUp(5000);
      assert.deepEqual(dump(pair.replica), dump(pair.leader));
      for (const [key] of dump(pair.leader))
        assert.equal(pair.replica.read(b(key))?.seq, pair.leader.read(b(key))?.seq, key);
      assert.ok(pair.resyncs() >= 1, 'the replica rebuilt itself from a snapshot');
      for (const { p, held } of positions)
        assert.ok(p.ack <= held, `published ack ${p.ack} while the replica held through ${held}`);
    } finally {
      await pair.close();
    }
  });
});
