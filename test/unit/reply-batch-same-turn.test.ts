/**
 * A group commit's replies leave the worker in the turn the commit log settles the batch
 * (src/worker/reply-batch.ts, `flushSoon`), not one turn of the event loop later: with durability
 * `interval` the batch is written and settled in the commit log's immediate and the promise
 * reactions after it, so the replies must be sent before any immediate queued after the commit
 * log's runs. Sent a turn later, the worker first took in and ran the next op batch (a poll phase)
 * while the main thread waited for the replies its connections' next requests depend on.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { OP_PUT, ST_DONE } from '../../src/worker/op-format.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openSpecHost, runOps, testStoreSpec, untilReplies } from '../helpers/worker-host.js';

describe('ReplyBatch: a group commit replies in the turn it settles', () => {
  for (const engine of ['lsm', 'memory'] as const)
    it(`sends the replies of an interval-mode batch before the next immediate (${engine})`, async () => {
      const dir = tempDir(after);
      const h = await openSpecHost({ ...testStoreSpec(dir, 0, engine), durability: 'interval' });
      after(() => h.host.close());
      for (let round = 0; round < 5; round++) {
        const ids = [1, 2, 3].map((i) => round * 10 + i);
        // The PUTs queue the commit log's immediate; the probe's immediate is queued after it.
        runOps(h.host, (w) => {
          for (const id of ids) w.add(id, OP_PUT, 0, `k${id}`, 'v');
        });
        const seen = await new Promise<number>((resolve) => {
          setImmediate(() => {
            resolve(ids.filter((id) => h.replies.has(id)).length);
          });
        });
        await untilReplies(h.replies, ids);
        assert.equal(seen, ids.length, `round ${round}: replies sent only a turn after their batch settled`);
        for (const id of ids) assert.equal(h.replies.get(id)!.status, ST_DONE, `reply ${id}`);
      }
    });
});
