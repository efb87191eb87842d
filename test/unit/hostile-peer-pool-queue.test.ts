/**
 * A replica's HttpSource keeps two connections to its leader. With both held (a broken or hostile
 * leader (a fake node: a node:http server on loopback) whose snapshot bodies never end, held under
 * back-pressure), a pull waits in the pool's queue, where undici's `headersTimeout` does not run:
 * it now fails once its bound (wait_ms + CONTACT_GRACE_MS) passes, the wait for a connection
 * included, and the follower retries. Before, it waited for good and the replica stopped.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { CONTACT_GRACE_MS } from '../../src/replication/lag.js';
import { encodeSnapshotEntries, encodeSnapshotHeader } from '../../src/replication/snapshot-format.js';
import { FakePeers, messageOf, settled, sourceOf } from '../helpers/fake-peer.js';

const peers = new FakePeers();

describe('a pull queued behind connections a leader holds', () => {
  it('fails within its bound, naming the wait, instead of waiting for good', async () => {
    const open = new Set<ServerResponse>();
    // A snapshot's header and then more entries than the socket buffers hold, never its end.
    const value = Buffer.alloc(64 * 1024, 0x76);
    const entries = Array.from({ length: 128 }, (_, i) => ({ key: Buffer.from(`k${i}`), value, seq: 3 }));
    const body = Buffer.concat([encodeSnapshotHeader(3), encodeSnapshotEntries(entries, false)]);
    const leader = await peers.start((req, res) => {
      if (req.url?.startsWith('/_repl/snapshot') === true) {
        open.add(res);
        res.writeHead(200, { 'x-distkv-epoch': '0' });
        res.write(body);
        return;
      }
      res.writeHead(204, { 'x-distkv-leader-seq': '3', 'x-distkv-epoch': '0' }).end();
    });
    const s = sourceOf(leader);
    const waitMs = 50;
    try {
      // Two snapshots read to their header and held: the pool's two connections are busy.
      const held = [await s.snapshot(), await s.snapshot()];
      assert.equal(held.length, 2);
      const started = performance.now();
      const outcome = messageOf(
        await settled(
          s.pull(3, 1 << 20, waitMs),
          waitMs + CONTACT_GRACE_MS + 5000,
          'the pull still waits in the queue',
        ),
      );
      assert.match(
        outcome,
        new RegExp(
          `no answer within ${waitMs + CONTACT_GRACE_MS} ms \\(the wait for a connection to the leader included\\)`,
        ),
      );
      assert.ok(performance.now() - started >= waitMs + CONTACT_GRACE_MS - 50, 'not before its bound');
    } finally {
      await s.close();
      for (const res of open) res.destroy();
      await peers.close();
    }
  });
});
