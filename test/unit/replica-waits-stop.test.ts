/**
 * A worker's OP_WAITs at the stop (src/worker/replica-waits.ts): a wait parked until `w` replicas
 * hold a seq is answered at once when the stop ends the waits, with the replicas that hold the seq
 * then, and a wait that comes later is answered without waiting; before the stop a wait is
 * answered when its replicas ack. The replication host is a stand-in whose acks the test sets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReplicationHost } from '../../src/replication/replication-host.js';
import { ST_DONE } from '../../src/worker/op-format.js';
import { ReplicaWaits } from '../../src/worker/replica-waits.js';
import type { ReplyBatch } from '../../src/worker/reply-batch.js';

/** Host stands in for a ReplicationHost: `acked` replicas hold every seq; waits resolve when it reaches theirs. */
class Host {
  acked = 0;
  private readonly parked: { n: number; resolve: (n: number) => void }[] = [];

  waitForAcks(_store: number, _seq: number, n: number): Promise<number> {
    if (this.acked >= n) return Promise.resolve(this.acked);
    return new Promise((resolve) => this.parked.push({ n, resolve }));
  }

  ack(count: number): void {
    this.acked = count;
    for (const p of this.parked.splice(0)) {
      if (count >= p.n) p.resolve(count);
      else this.parked.push(p);
    }
  }
}

/** setUp returns the waits over a stand-in host and the replies they sent (id → acked). */
function setUp(): { waits: ReplicaWaits; host: Host; replies: Map<number, number> } {
  const host = new Host();
  const replies = new Map<number, number>();
  const batch = {
    add: (id: number, status: number, seq: number) => {
      assert.equal(status, ST_DONE);
      replies.set(id, seq);
    },
    flushSoon: () => undefined,
  } as unknown as ReplyBatch;
  const waits = new ReplicaWaits(batch, () => host as unknown as ReplicationHost);
  return { waits, host, replies };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('OP_WAIT at the stop', () => {
  it('answers a wait when its replicas ack, before the stop', async () => {
    const { waits, host, replies } = setUp();
    waits.wait(1, 0, 10, 2, 60000);
    await turn();
    assert.equal(replies.size, 0, 'parked until 2 replicas hold the seq');
    host.ack(2);
    await turn();
    assert.deepEqual([...replies], [[1, 2]]);
    assert.equal(waits.size, 0, 'no wake-up is kept once its wait is answered');
  });

  it('answers a parked wait at once at the stop with the replicas holding the seq then, and a later one without waiting', async () => {
    const { waits, host, replies } = setUp();
    host.ack(1);
    waits.wait(1, 0, 10, 2, 60000);
    waits.wait(2, 0, 11, 3, 60000);
    await turn();
    assert.equal(waits.size, 2);
    waits.end();
    await turn();
    assert.deepEqual(
      [...replies].sort((a, b) => a[0] - b[0]),
      [
        [1, 1],
        [2, 1],
      ],
    );
    assert.equal(waits.size, 0);
    waits.wait(3, 0, 12, 2, 60000);
    await turn();
    assert.equal(replies.get(3), 1, 'a wait after the stop is answered at once');
    // A parked wait's own answer coming after the stop's is not sent twice.
    host.ack(3);
    await turn();
    assert.equal(replies.size, 3);
  });
});
