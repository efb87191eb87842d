/**
 * The ops of one key run in the order they reach the worker, even when one of them waits: a
 * conditional write (OP_PUT_EXT / OP_DELETE_EXT) on a key with a write in flight waits for that
 * write to settle before it is checked, and the ops behind it on the key (one pipelined HTTP
 * connection, one RESP connection, one batch) must not overtake it. A seeded model test compares
 * random op sequences over a few keys, cut into random batches, with the same ops run one by one.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  COND_IF_EXISTS,
  COND_IF_NONE_MATCH,
  encodeExt,
  OP_DELETE,
  OP_GET,
  OP_INCR,
  OP_PUT,
  OP_PUT_EXT,
  ST_CONFLICT,
  ST_DONE,
  ST_MISSING,
  ST_VALUE,
} from '../../src/worker/op-format.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openTestHost, runOps, untilReplies } from '../helpers/worker-host.js';

const ifExists = (value: string): Buffer =>
  encodeExt({ flags: COND_IF_EXISTS, ifSeq: 0, expiresAtMs: 0 }, value);
const ifNone = (value: string): Buffer =>
  encodeExt({ flags: COND_IF_NONE_MATCH, ifSeq: 0, expiresAtMs: 0 }, value);

describe('ops on one key keep their order behind a waiting conditional write', () => {
  it('a plain PUT behind a waiting If-Exists PUT is applied after it', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'k', '1');
      w.add(2, OP_PUT_EXT, 0, 'k', ifExists('2')); // waits for 1 to settle
      w.add(3, OP_PUT, 0, 'k', '3');
    });
    await untilReplies(replies, [1, 2, 3]);
    runOps(host, (w) => {
      w.add(4, OP_GET, 0, 'k', undefined);
    });
    await untilReplies(replies, [4]);
    assert.equal(replies.get(2)!.status, ST_DONE);
    assert.equal(replies.get(4)!.value.toString(), '3', 'the last write in order wins');
  });

  it('a DELETE behind a waiting If-Exists PUT does not make it fail', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'k', '1');
      w.add(2, OP_PUT_EXT, 0, 'k', ifExists('2'));
      w.add(3, OP_DELETE, 0, 'k', undefined);
      w.add(4, OP_GET, 0, 'k', undefined);
    });
    await untilReplies(replies, [1, 2, 3, 4]);
    assert.equal(replies.get(2)!.status, ST_DONE, 'the key existed when the conditional write came');
    assert.equal(replies.get(3)!.status, ST_DONE, 'the delete found the conditional write');
    assert.equal(replies.get(4)!.status, ST_MISSING);
  });

  it('matches a one-by-one model over random batches of PUT, DELETE, INCR, GET and conditional PUTs', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const keys = ['a', 'b', 'c'];
    const model = new Map<string, bigint>();
    const expected = new Map<number, { status: number; value?: string }>();
    let id = 0;
    for (let round = 0; round < 40; round++) {
      runOps(host, (w) => {
        const n = 1 + Math.floor(rnd() * 12);
        for (let i = 0; i < n; i++) {
          const key = keys[Math.floor(rnd() * keys.length)]!;
          const v = BigInt(Math.floor(rnd() * 1000));
          const has = model.has(key);
          const r = rnd();
          id++;
          if (r < 0.25) {
            w.add(id, OP_PUT, 0, key, String(v));
            model.set(key, v);
            expected.set(id, { status: ST_DONE });
          } else if (r < 0.4) {
            w.add(id, OP_DELETE, 0, key, undefined);
            model.delete(key);
            expected.set(id, { status: has ? ST_DONE : ST_MISSING });
          } else if (r < 0.55) {
            w.add(id, OP_INCR, 0, key, '1');
            const next = (model.get(key) ?? 0n) + 1n;
            model.set(key, next);
            expected.set(id, { status: ST_DONE, value: String(next) });
          } else if (r < 0.7) {
            w.add(id, OP_PUT_EXT, 0, key, ifExists(String(v)));
            if (has) model.set(key, v);
            expected.set(id, { status: has ? ST_DONE : ST_CONFLICT });
          } else if (r < 0.85) {
            w.add(id, OP_PUT_EXT, 0, key, ifNone(String(v)));
            if (!has) model.set(key, v);
            expected.set(id, { status: has ? ST_CONFLICT : ST_DONE });
          } else {
            w.add(id, OP_GET, 0, key, undefined);
            const cur = model.get(key);
            expected.set(
              id,
              cur === undefined ? { status: ST_MISSING } : { status: ST_VALUE, value: String(cur) },
            );
          }
        }
      });
      // Most batches follow the last one at once (its writes still in flight), some after all settled.
      if (rnd() < 0.3) await untilReplies(replies, [...expected.keys()]);
    }
    await untilReplies(replies, [...expected.keys()]);
    for (const [i, want] of expected) {
      const got = replies.get(i)!;
      assert.equal(got.status, want.status, `op ${i}: status (seed ${seed})`);
      if (want.value !== undefined)
        assert.equal(got.value.toString(), want.value, `op ${i}: value (seed ${seed})`);
    }
    id++;
    const last = id;
    runOps(host, (w) => {
      keys.forEach((k, i) => {
        w.add(last + i, OP_GET, 0, k, undefined);
      });
    });
    await untilReplies(
      replies,
      keys.map((_, i) => last + i),
    );
    keys.forEach((k, i) => {
      const got = replies.get(last + i)!;
      const want = model.get(k);
      assert.equal(
        got.status === ST_VALUE ? got.value.toString() : undefined,
        want?.toString(),
        `${k} at the end (seed ${seed})`,
      );
    });
  });
});

describe('a write in flight whose TTL has run out', () => {
  it('is not served by a read waiting for it, nor read by INCR or DELETE', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const expired = (value: string): Buffer =>
      encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: Date.now() - 1 }, value);
    runOps(host, (w) => {
      w.add(1, OP_PUT_EXT, 0, 'k', expired('5'));
      w.add(2, OP_GET, 0, 'k', undefined);
      w.add(3, OP_PUT_EXT, 0, 'n', expired('5'));
      w.add(4, OP_INCR, 0, 'n', '1');
      w.add(5, OP_PUT_EXT, 0, 'd', expired('5'));
      w.add(6, OP_DELETE, 0, 'd', undefined);
    });
    await untilReplies(replies, [1, 2, 3, 4, 5, 6]);
    assert.equal(replies.get(2)!.status, ST_MISSING, 'the value had expired before it was durable');
    assert.equal(replies.get(4)!.value.toString(), '1', 'INCR started from a missing key');
    assert.equal(replies.get(6)!.status, ST_MISSING, 'the delete found nothing');
  });
});
