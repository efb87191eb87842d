/**
 * The connections of a replica's HttpSource are never held by a snapshot body it no longer reads.
 *
 * A snapshot stream that goes on after its end (a broken or hostile leader: garbage trickled after
 * exactSeq, forever), or a 200 that is no snapshot and goes on, does not hold the replica's connection to its leader: the body is let go once
 * the snapshot ends. Before, it was left unread, each such resync kept one of the source's two
 * connections busy for good, and after two of them the replica's pulls waited for a connection
 * that never came free (no timeout runs while a request waits in the pool's queue). So did a
 * legitimate leader's large snapshot whose load failed before it read (the store's rebuild failed).
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { loadSnapshot } from '../../src/replication/snapshot-load.js';
import { FakePeers, messageOf, settled, snapshotLeader, sourceOf } from '../helpers/fake-peer.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';

const peers = new FakePeers();

/** LATE is the outcome of three resyncs and a pull that did not end in time. */
const LATE = 'a resync or the pull after them waited for a connection';

describe('a snapshot stream that goes on after its end', () => {
  for (const [what, body, complete] of [
    [
      'is let go once the snapshot ends',
      snapshotStream(3, [{ key: Buffer.from('k'), value: Buffer.from('v'), seq: 3 }]),
      true,
    ],
    ['is let go when it is not a snapshot (a 200 of HTML)', Buffer.from('<html>'), false],
  ] as const)
    it(`${what}: pulls still get a connection`, async () => {
      const open = new Set<ServerResponse>();
      const timers: NodeJS.Timeout[] = [];
      const leader = await peers.start((req, res) => {
        if (req.url?.startsWith('/_repl/snapshot') === true) {
          res.writeHead(200, { 'x-distkv-epoch': '0' });
          res.write(body);
          open.add(res);
          const t = setInterval(() => {
            if (res.destroyed) clearInterval(t);
            else res.write(Buffer.alloc(1024, 0x7a));
          }, 20);
          timers.push(t);
          return;
        }
        res.writeHead(204, { 'x-distkv-leader-seq': '3', 'x-distkv-epoch': '0' }).end();
      });
      const s = sourceOf(leader);
      try {
        // Three resyncs (the source keeps two connections), then a pull: each must get a connection.
        const run = async (): Promise<void> => {
          for (let i = 0; i < 3; i++) {
            if (!complete) {
              await assert.rejects(s.snapshot(), /not a distkv snapshot \(bad magic\)/);
              continue;
            }
            const snap = await s.snapshot();
            let keys = 0;
            for await (const chunk of snap.chunks) keys += chunk.length;
            assert.equal(keys, 1);
            assert.equal(snap.exactSeq(), 3);
          }
          await s.pull(3, 1 << 20, 50);
        };
        assert.equal(messageOf(await settled(run(), 8000, LATE)), 'resolved');
      } finally {
        for (const t of timers) clearInterval(t);
        await s.close();
        await peers.close();
      }
    });
});

describe('a snapshot whose load fails before it reads', () => {
  it("lets the leader's body go: the resync after it and the pulls get a connection", async () => {
    // A legitimate leader and a large snapshot (8 MiB): unread, its body fills the socket buffers
    // and waits under back-pressure, when no body timeout runs.
    const value = Buffer.alloc(64 * 1024, 0x76);
    const entries = Array.from({ length: 128 }, (_, i) => ({ key: Buffer.from(`k${i}`), value, seq: 3 }));
    const stream = snapshotStream(3, entries);
    const s = sourceOf(await peers.start(snapshotLeader(stream)));
    try {
      const run = async (): Promise<void> => {
        // Three resyncs whose store rebuild fails (a full disk), then a pull.
        for (let i = 0; i < 3; i++) {
          const snap = await s.snapshot();
          await assert.rejects(
            loadSnapshot(snap, {
              rebuild: () => Promise.reject(new Error('disk full')),
              reopen: () => Promise.reject(new Error('not reached')),
              stopped: () => false,
            }),
            /disk full/,
          );
        }
        await s.pull(3, 1 << 20, 50);
      };
      assert.equal(messageOf(await settled(run(), 8000, LATE)), 'resolved');
    } finally {
      await s.close();
      await peers.close();
    }
  });
});
