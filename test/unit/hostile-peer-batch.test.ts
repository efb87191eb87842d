/**
 * A replica pulling from a broken or hostile leader (a fake one: a node:http server on loopback
 * answering `/_repl/pull`) never applies a batch whose records do not carry the seqs after its ack,
 * one by one, nor one with a bad checksum: its store keeps its last seq and its content, and the
 * follower reports why (lastError names the leader) and pulls again. Before, a batch whose seqs
 * jumped (1, 2, 9) was taken whole, and the replica claimed seqs 3..8 it never got; one whose seqs
 * went back moved its log's next seq back under what it had logged.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { FakePeers, followerOf, waitUntil } from '../helpers/fake-peer.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

/** batchOf encodes PUTs of `k<seq>` = `v<seq>` with the given seqs, in that order. */
function batchOf(seqs: readonly number[]): Buffer {
  return Buffer.concat(
    seqs.map((seq) => {
      const key = Buffer.from(`k${seq}`);
      const value = Buffer.from(`v${seq}`);
      const b = Buffer.alloc(recordSize(key.length, value.length));
      encodeRecord(b, 0, TYPE_PUT, seq, key, value);
      return b;
    }),
  );
}

const peers = new FakePeers();

/** fakeLeader answers every pull after seq 0 with `body` (200), and later ones with none (204). */
async function fakeLeader(body: Buffer): Promise<{ address: string; pulls: () => number }> {
  let pulls = 0;
  const address = await peers.start((req, res) => {
    pulls++;
    const afterSeq = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('after'));
    const headers = { 'x-distkv-leader-seq': '9', 'x-distkv-epoch': '0', 'x-distkv-records-epoch': '0' };
    if (afterSeq === 0) res.writeHead(200, headers).end(body);
    else res.writeHead(204, headers).end();
  });
  return { address, pulls: () => pulls };
}

describe('a replica pulling from a hostile leader', () => {
  // Each record of batchOf([1, 2, 3]) is 23 bytes: its value's last byte is at offset 22.
  const cases: [string, Buffer, RegExp][] = [
    ['seqs that jump (1, 2, 9)', batchOf([1, 2, 9]), /holds seq 9 at offset 46 where seq 3 must follow/],
    ['seqs that go back (1, 2, 1)', batchOf([1, 2, 1]), /holds seq 1 at offset 46 where seq 3 must follow/],
    ['a repeated seq (1, 1)', batchOf([1, 1]), /holds seq 1 at offset 23 where seq 2 must follow/],
    ['a record with a flipped bit (bad checksum)', flipped(batchOf([1, 2, 3]), 45), /checksum mismatch/],
    ['a body cut in the middle of a record', batchOf([1, 2, 3]).subarray(0, 55), /inside a record/],
  ];
  for (const [what, body, why] of cases)
    it(`applies nothing of a batch with ${what}, says why and pulls again`, async () => {
      const leader = await fakeLeader(body);
      const replica = await openTestLsm(join(tempDir(after), 'replica'), { memtableBytes: 8 << 20 });
      const f = followerOf(leader.address, replica);
      try {
        f.start();
        await waitUntil(() => leader.pulls() >= 2, 'the follower did not pull again');
        await f.stop();
        assert.equal(replica.replication.lastSeq(), 0, 'the replica took seqs from the bad batch');
        for (const seq of [1, 2, 3, 9]) assert.equal(replica.get(Buffer.from(`k${seq}`)), undefined);
        assert.equal(f.counters.batches, 0);
        assert.ok(f.counters.errors >= 1);
        assert.match(f.current().lastError, why);
      } finally {
        await f.stop();
        await replica.close();
        await peers.close();
      }
    });

  it('applies a well-formed batch (the check refuses only what is wrong)', async () => {
    const leader = await fakeLeader(batchOf([1, 2, 3]));
    const replica = await openTestLsm(join(tempDir(after), 'replica'), { memtableBytes: 8 << 20 });
    const f = followerOf(leader.address, replica);
    try {
      f.start();
      await waitUntil(() => replica.replication.lastSeq() >= 3, 'the replica did not apply the batch');
      assert.equal(Buffer.from(replica.get(Buffer.from('k2')) ?? []).toString(), 'v2');
    } finally {
      await f.stop();
      await replica.close();
      await peers.close();
    }
  });
});

/** flipped returns a copy of `b` with one bit of byte `at` flipped. */
function flipped(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at]! ^= 0x10;
  return c;
}
