/**
 * A leader (broken, or hostile) whose pull answers name an epoch past what every format holds
 * (u32: MAX_EPOCH) is refused, nothing applied: the epoch of a pull's records goes into the
 * replica's log frames (u32). A snapshot's is read as none, as any X-Distkv-Epoch that is not an
 * epoch (the replica keeps its own): it would become its store's epoch, the one its next records
 * are logged in. Before, a batch labelled epoch 2^32 was taken, and writing its frame threw in the
 * worker's commit log, which the worker's other stores share.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { FakePeers, followerOf, sourceOf, waitUntil } from '../helpers/fake-peer.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';

const TOO_BIG = String(2 ** 32);

const peers = new FakePeers();

describe('a leader naming an epoch past u32', () => {
  for (const [what, headers] of [
    ['its records', { 'x-distkv-epoch': TOO_BIG, 'x-distkv-records-epoch': TOO_BIG }],
    ['its own epoch', { 'x-distkv-epoch': TOO_BIG, 'x-distkv-records-epoch': '0' }],
  ] as const)
    it(`is refused when it names ${what} so, and the replica's store keeps working`, async () => {
      const key = Buffer.from('k1');
      const value = Buffer.from('v1');
      const record = Buffer.alloc(recordSize(key.length, value.length));
      encodeRecord(record, 0, TYPE_PUT, 1, key, value);
      let pulls = 0;
      const leader = await peers.start((req, res) => {
        pulls++;
        const afterSeq = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('after'));
        if (afterSeq === 0) res.writeHead(200, { 'x-distkv-leader-seq': '1', ...headers }).end(record);
        else res.writeHead(204, { 'x-distkv-leader-seq': '1', 'x-distkv-epoch': '0' }).end();
      });
      const replica = await openTestLsm(join(tempDir(after), 'replica'), { memtableBytes: 8 << 20 });
      const f = followerOf(leader, replica);
      try {
        f.start();
        await waitUntil(() => pulls >= 3, 'the follower did not pull again');
        await f.stop();
        assert.equal(replica.replication.lastSeq(), 0, 'the replica took the batch');
        assert.match(
          f.current().lastError,
          /x-distkv-epoch "4294967296" is not an epoch \(an integer 0\.\.4294967295\)/,
        );
        // The store's log still takes writes.
        await replica.put(Buffer.from('own'), Buffer.from('x'));
        assert.equal(replica.replication.lastSeq(), 1);
      } finally {
        await f.stop();
        await replica.close();
        await peers.close();
      }
    });

  it('is read as no epoch when it names its snapshot so (the replica keeps its own)', async () => {
    const leader = await peers.start((_req, res) => {
      res
        .writeHead(200, { 'x-distkv-epoch': TOO_BIG })
        .end(snapshotStream(1, [{ key: Buffer.from('k'), value: Buffer.from('v'), seq: 1 }]));
    });
    const s = sourceOf(leader);
    try {
      const snap = await s.snapshot();
      for await (const chunk of snap.chunks) assert.equal(chunk.length, 1);
      assert.equal(snap.epoch, undefined);
    } finally {
      await s.close();
      await peers.close();
    }
  });
});
