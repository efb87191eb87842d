/**
 * A snapshot (src/replication/snapshot-format.ts, version 4) ends with the crc32c of its bytes: a
 * replica refuses one a bit of which changed on the way (a bad NIC, a proxy, a broken leader)
 * before it claims any position, as it refuses a pulled record whose crc fails. Before, a flipped
 * bit in a value was loaded and served, and counted as the leader's state from then on.
 *  - the decoder: any one bit flipped anywhere in a stream never yields a finished snapshot (it
 *    throws, or waits for bytes that a length now asks for);
 *  - a replica resyncing from a leader over HTTP (test/helpers/fake-leader.ts) whose snapshots
 *    arrive with a bit flipped: it serves nothing and acks 0, logs the refusal naming the leader,
 *    tries again, and holds exactly the leader's keys once a whole snapshot comes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SLOT_LAST_SEQ } from '../../src/replication/positions.js';
import { SnapshotDecoder } from '../../src/replication/snapshot-format.js';
import { FakeLeader } from '../helpers/fake-leader.js';
import { HostedReplica } from '../helpers/hosted-replica.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { snapshotStream } from '../helpers/snapshot-stream.js';

const REPLICA = '127.0.0.1:7003';

/** until waits for `cond`, polling, for at most 20 s. */
async function until(cond: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 20000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a snapshot stream with one bit flipped', () => {
  it('never decodes to a finished snapshot, wherever the bit is', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const entries = Array.from({ length: 40 }, (_, i) => ({
      key: Buffer.from(`key-${i}`),
      value: Buffer.alloc(Math.floor(rand() * 300), 0x61 + (i % 26)),
      seq: i + 1,
      expiresAtMs: i % 3 === 0 ? 1_900_000_000_000 + i : 0,
    }));
    const whole = snapshotStream(40, entries, 45);
    const read = new SnapshotDecoder();
    assert.equal(read.push(whole).length, entries.length);
    assert.equal(read.done, true, 'the stream as sent is read whole');
    // Every byte of the stream once (a random bit of it), cut into pieces at random places.
    for (let at = 0; at < whole.length; at++) {
      const bad = Buffer.from(whole);
      const bit = Math.floor(rand() * 8);
      bad[at] = bad[at]! ^ (1 << bit);
      const d = new SnapshotDecoder();
      let outcome = 'waiting';
      try {
        for (let p = 0; p < bad.length && !d.done;) {
          const n = 1 + Math.floor(rand() * 400);
          d.push(bad.subarray(p, p + n));
          p += n;
        }
        if (d.done) outcome = 'finished';
      } catch (err) {
        outcome = (err as Error).message;
      }
      assert.notEqual(
        outcome,
        'finished',
        `seed ${seed}: bit ${bit} of byte ${at} (of ${whole.length}) flipped, the snapshot was read as whole`,
      );
    }
  });

  it('names the crc when only a value changed', () => {
    const whole = snapshotStream(1, [{ key: Buffer.from('k'), value: Buffer.from('value'), seq: 1 }]);
    whole[whole.length - 15] = whole[whole.length - 15]! ^ 0x01;
    assert.throws(() => new SnapshotDecoder().push(whole), /crc32c [0-9a-f]+ does not match its \d+ bytes/);
  });
});

describe('a replica whose snapshots arrive with a bit flipped', () => {
  it('serves nothing of them, acks 0, logs the refusal naming the leader and loads a whole one', async () => {
    const leader = await FakeLeader.start(30);
    leader.flipped = 2;
    const replica = await HostedReplica.open(leader.address, { name: REPLICA });
    const want = JSON.stringify(
      leader.entries().map((e) => [e.key.toString('latin1'), e.value.toString('latin1')]),
    );
    const flippedValue = '"v34"';
    const seen = new Set<string>();
    try {
      replica.host.start();
      // Two snapshots with a bit flipped, then a whole one (the follower backs off in between).
      await until(
        () => {
          const served = replica.served();
          seen.add(served.includes(flippedValue) ? 'flipped' : served === want ? 'whole' : 'other');
          seen.add(`acked ${replica.positions.get(0, SLOT_LAST_SEQ)} ${replica.state}`);
          return leader.snapshots >= 3 && served === want && replica.state === 'streaming';
        },
        () =>
          `the replica did not load the whole snapshot: ${leader.snapshots} snapshots, state ${replica.state}, serving ${replica.served().slice(0, 200)}`,
      );
      assert.equal(seen.has('flipped'), false, 'the replica served the flipped value');
      for (const s of seen)
        if (s.startsWith('acked ') && !s.endsWith(' streaming'))
          assert.ok(s.startsWith('acked 0 '), `the replica claimed a position over a refused snapshot: ${s}`);
      const refused = replica.lines.filter((l) => l.includes('does not match'));
      assert.ok(refused.length >= 1, `the refusal was not logged:\n${replica.lines.join('')}`);
      assert.match(refused[0]!, new RegExp(`snapshot from http://${leader.address.replaceAll('.', '\\.')}`));
      assert.equal(leader.snapshots, 3, 'the replica took a snapshot with a bit flipped');
    } finally {
      await replica.close();
      await leader.close();
    }
  });
});
