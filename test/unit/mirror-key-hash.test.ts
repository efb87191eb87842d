/**
 * Leaders and their replicas on one commit log (the default layout: one worker) share each record's
 * key hash: the leader hashes a key once when it appends it, and its mirrored replica files the
 * record under that hash (key-origin.ts) instead of hashing the key again. A hash paired with the
 * wrong record (another store's part, a neighbour in the same part) files the key where no lookup
 * finds it, so this seeded model test writes the same turns to several leaders at once, with keys
 * shared between stores and keys of every length class (1 byte to 2 KiB, any byte), values from
 * empty to over a quarter of a memtable slab, deletes and TTL puts, and after every turn checks
 * each key's leader and replica version against a Map per shard, and each replica's full scan
 * against its leader's. It prints its seed when it fails (DISTKV_SEED replays it).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Follower } from '../../src/replication/follower.js';
import { LocalSource } from '../../src/replication/local-source.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestGroup } from '../helpers/lsm.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { dump } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const LEADERS = 3;
const TURNS = 60;
const KEY_POOL = 40;

/** keyOf makes key `n` of the pool: its length class spans 1 byte to 2 KiB, any byte value. */
function keyOf(n: number, rnd: () => number): Buffer {
  const lengths = [1, 2, 7, 8, 16, 31, 32, 33, 100, 255, 256, 1000, 2048];
  const len = lengths[n % lengths.length]!;
  const k = Buffer.alloc(len);
  for (let i = 0; i < len; i++) k[i] = Math.floor(rnd() * 256);
  // Distinct keys of one length: the first bytes carry the pool number.
  k[0] = n;
  return k;
}

function valueOf(rnd: () => number): Buffer {
  const r = rnd();
  const len =
    r < 0.05 ? 0 : r < 0.9 ? Math.floor(rnd() * 200) : r < 0.98 ? 1000 + Math.floor(rnd() * 5000) : 300_000;
  return Buffer.alloc(len, Math.floor(rnd() * 256));
}

const hex = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : Buffer.from(b).toString('hex');

describe('a mirrored replica files each record under its leader key hash', () => {
  it('holds every key its leader holds, per store, with keys shared between stores and turns of equal seqs', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const dir = tempDir(after);
    const dirs = [
      ...Array.from({ length: LEADERS }, (_, i) => join(dir, `leader-${i}`)),
      ...Array.from({ length: LEADERS }, (_, i) => join(dir, `replica-${i}`)),
    ];
    const { log, stores } = await openTestGroup(join(dir, 'log'), dirs, { memtableBytes: 1024 * 1024 });
    const leaders = stores.slice(0, LEADERS);
    const replicas = stores.slice(LEADERS);
    const followers = leaders.map((leader, i) => {
      const f = new Follower({
        source: new LocalSource(() => leader.replication, `leader ${i}`),
        store: () => replicas[i]!.replication,
        rebuild: () => Promise.reject(new Error('no resync in this test')),
        reopen: () => Promise.reject(new Error('no resync in this test')),
        publish: () => undefined,
        pullMaxBytes: 1024 * 1024,
        pullWaitMs: 50,
      });
      f.start();
      return f;
    });
    const keys = Array.from({ length: KEY_POOL }, (_, n) => keyOf(n, rnd));
    const models = leaders.map(() => new Map<string, string>());
    let fedTurns = 0;
    try {
      for (let turn = 0; turn < TURNS; turn++) {
        // The first third of the turns, then half the others, write as many records to every
        // leader: their seqs move in step, so a part of the wrong store would line up seq for seq.
        const even = turn < TURNS / 3 || rnd() < 0.5;
        const counts = leaders.map(() => 1 + Math.floor(rnd() * 12));
        const writes: Promise<unknown>[] = [];
        for (let s = 0; s < LEADERS; s++)
          for (let i = 0; i < (even ? counts[0]! : counts[s]!); i++) {
            const key = keys[Math.floor(rnd() * KEY_POOL)]!;
            const r = rnd();
            const store: LsmStore = leaders[s]!;
            if (r < 0.15) {
              writes.push(store.delete(key));
              models[s]!.delete(key.toString('hex'));
            } else {
              const value = valueOf(rnd);
              const ttl = r < 0.25 ? Date.now() + 3_600_000 : 0;
              writes.push(store.put(key, value, ttl));
              models[s]!.set(key.toString('hex'), value.toString('hex'));
            }
          }
        await Promise.all(writes);
        if (replicas.every((rep, s) => rep.lastSeq() === leaders[s]!.lastSeq())) fedTurns++;
        for (let s = 0; s < LEADERS; s++)
          while (replicas[s]!.lastSeq() < leaders[s]!.lastSeq()) await new Promise((r) => setTimeout(r, 2));
        for (let s = 0; s < LEADERS; s++)
          for (const key of keys) {
            const want = models[s]!.get(key.toString('hex'));
            const where = `seed ${seed}, turn ${turn}, store ${s}, key of ${key.length} bytes`;
            assert.equal(hex(leaders[s]!.get(key)), want, `leader: ${where}`);
            assert.equal(hex(replicas[s]!.get(key)), want, `replica: ${where}`);
          }
      }
      for (let s = 0; s < LEADERS; s++)
        assert.deepEqual(dump(replicas[s]!), dump(leaders[s]!), `seed ${seed}: store ${s}'s scan`);
      // Most turns must have gone through the feed (held as the leader answered): that is the path under test.
      assert.ok(fedTurns > TURNS / 2, `seed ${seed}: only ${fedTurns} of ${TURNS} turns were fed`);
    } finally {
      for (const f of followers) await f.stop();
      for (const s of stores) await s.close();
      await log.close();
    }
  });
});
