/**
 * Redis 7's EXPIRE NX / XX / GT / LT and SET ... GET with an expiry on a shard worker: EDIT_EXPIRE
 * checks its condition against the key's newest expiry, a write still in its group commit included,
 * and writes in the same step (src/worker/edits.ts, conditions.ts); OP_SET_IF with SET_IF_EXPIRES /
 * SET_IF_KEEP_TTL answers the old value and writes the expiry, or keeps the newest one. A seeded
 * model of one batch's ops on a few keys checks every reply and the final expiries.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { expiryConditionHolds } from '../../src/worker/conditions.js';
import {
  EDIT_EXPIRE,
  encodeEdit,
  encodeExt,
  encodeSetIf,
  EXPIRE_GT,
  EXPIRE_LT,
  EXPIRE_NX,
  EXPIRE_XX,
  OP_EDIT,
  OP_GET,
  OP_GET_EXPIRY,
  OP_PUT,
  OP_PUT_EXT,
  OP_SET_IF,
  SET_IF_KEEP_TTL,
  SET_IF_NX,
  SET_IF_XX,
  ST_DONE,
  ST_MISSING,
  ST_VALUE,
} from '../../src/worker/op-format.js';
import { decodeOld } from '../../src/worker/read-modify-write.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openTestHost, runOps, untilReplies, type HostReply } from '../helpers/worker-host.js';

const expireEdit = (cond: number, atMs: number): Buffer =>
  encodeEdit({ kind: EDIT_EXPIRE, limit: 0, atMs, arg: Buffer.of(cond) });
const putExpiring = (value: string, atMs: number): Buffer =>
  encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: atMs }, value);
const ids = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => from + i);
const expiryOf = (r: HostReply | undefined): number | undefined =>
  r?.status === ST_VALUE ? r.value.readDoubleLE(0) : undefined;
const oldOf = (r: HostReply | undefined): string | undefined => {
  const old = r === undefined ? undefined : decodeOld(r.value);
  return old === undefined ? undefined : Buffer.from(old).toString();
};

describe("EDIT_EXPIRE's conditions (Redis 7's expireGenericCommand)", () => {
  it('counts no expiry as infinite: GT never holds on a persistent key, LT always does', () => {
    const at = 5000;
    assert.equal(expiryConditionHolds(EXPIRE_GT, 0, at), false);
    assert.equal(expiryConditionHolds(EXPIRE_LT, 0, at), true);
    assert.equal(expiryConditionHolds(EXPIRE_LT, 0, -1), true, 'even a time in the past');
    assert.equal(expiryConditionHolds(EXPIRE_NX, 0, at), true);
    assert.equal(expiryConditionHolds(EXPIRE_XX, 0, at), false);
    assert.equal(expiryConditionHolds(0, 0, at), true);
  });

  it('compares strictly with an existing expiry: an equal time is neither greater nor less', () => {
    assert.equal(expiryConditionHolds(EXPIRE_GT, 5000, 5001), true);
    assert.equal(expiryConditionHolds(EXPIRE_GT, 5000, 5000), false);
    assert.equal(expiryConditionHolds(EXPIRE_LT, 5000, 4999), true);
    assert.equal(expiryConditionHolds(EXPIRE_LT, 5000, 5000), false);
    assert.equal(expiryConditionHolds(EXPIRE_NX, 5000, 1), false);
    assert.equal(expiryConditionHolds(EXPIRE_XX, 5000, 1), true);
    assert.equal(expiryConditionHolds(EXPIRE_XX | EXPIRE_LT, 5000, 4000), true);
    assert.equal(expiryConditionHolds(EXPIRE_XX | EXPIRE_GT, 5000, 4000), false);
  });
});

describe('EDIT_EXPIRE and OP_SET_IF with an expiry on a shard worker', () => {
  it('checks GT / LT / NX against the expiry of a write still in its group commit', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const a = Date.now() + 3_600_000;
    runOps(host, (w) => {
      w.add(1, OP_PUT_EXT, 0, 'k', putExpiring('v', a));
      w.add(2, OP_EDIT, 0, 'k', expireEdit(EXPIRE_GT, a - 1000));
      w.add(3, OP_EDIT, 0, 'k', expireEdit(EXPIRE_NX, a + 5000));
      w.add(4, OP_EDIT, 0, 'k', expireEdit(EXPIRE_LT, a - 1000));
      w.add(5, OP_EDIT, 0, 'k', expireEdit(EXPIRE_GT, a - 1000));
      w.add(6, OP_GET_EXPIRY, 0, 'k', undefined);
      w.add(7, OP_PUT, 0, 'p', 'v');
      w.add(8, OP_EDIT, 0, 'p', expireEdit(EXPIRE_GT, a));
      w.add(9, OP_EDIT, 0, 'p', expireEdit(EXPIRE_XX, a));
      w.add(10, OP_EDIT, 0, 'p', expireEdit(EXPIRE_LT, a));
      w.add(11, OP_GET_EXPIRY, 0, 'p', undefined);
      w.add(12, OP_EDIT, 0, 'missing', expireEdit(0, a));
      w.add(13, OP_GET, 0, 'k', undefined);
    });
    await untilReplies(replies, ids(13));
    const results = [2, 3, 4, 5, 8, 9, 10, 12].map((id) => replies.get(id)!.value.toString());
    assert.deepEqual(results, ['0', '0', '1', '0', '0', '0', '1', '0']);
    assert.equal(expiryOf(replies.get(6)), a - 1000);
    assert.equal(expiryOf(replies.get(11)), a, 'LT sets an expiry on a persistent key');
    assert.equal(replies.get(13)!.value.toString(), 'v', 'the value is kept');
  });

  it('deletes the key for a time already past only when the condition holds, answering 1', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const a = Date.now() + 3_600_000;
    runOps(host, (w) => {
      w.add(1, OP_PUT_EXT, 0, 'k', putExpiring('v', a));
      w.add(2, OP_EDIT, 0, 'k', expireEdit(EXPIRE_GT, 1));
      w.add(3, OP_EDIT, 0, 'k', expireEdit(EXPIRE_NX, -5));
      w.add(4, OP_GET, 0, 'k', undefined);
      w.add(5, OP_EDIT, 0, 'k', expireEdit(EXPIRE_LT, 0));
      w.add(6, OP_GET, 0, 'k', undefined);
      w.add(7, OP_EDIT, 0, 'k', expireEdit(EXPIRE_LT, 0));
    });
    await untilReplies(replies, ids(7));
    assert.deepEqual(
      [2, 3, 5, 7].map((id) => replies.get(id)!.value.toString()),
      ['0', '0', '1', '0'],
    );
    assert.equal(replies.get(4)!.status, ST_VALUE);
    assert.equal(replies.get(6)!.status, ST_MISSING);
  });

  it('answers the old value of a SET GET and writes its expiry, keeps the in-flight one with KEEPTTL, deletes for a time past', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const a = Date.now() + 3_600_000;
    runOps(host, (w) => {
      w.add(1, OP_SET_IF, 0, 'k', encodeSetIf(0, Buffer.from('v1'), a));
      w.add(2, OP_SET_IF, 0, 'k', encodeSetIf(SET_IF_KEEP_TTL, Buffer.from('v2')));
      w.add(3, OP_GET_EXPIRY, 0, 'k', undefined);
      w.add(4, OP_SET_IF, 0, 'k', encodeSetIf(SET_IF_NX, Buffer.from('v3'), a + 1));
      w.add(5, OP_SET_IF, 0, 'k', encodeSetIf(SET_IF_XX, Buffer.from('v4'), a + 2000));
      w.add(6, OP_GET_EXPIRY, 0, 'k', undefined);
      w.add(7, OP_SET_IF, 0, 'k', encodeSetIf(0, Buffer.from('v5'), 1));
      w.add(8, OP_GET, 0, 'k', undefined);
      w.add(9, OP_SET_IF, 0, 'n', encodeSetIf(SET_IF_KEEP_TTL, Buffer.from('x')));
      w.add(10, OP_GET_EXPIRY, 0, 'n', undefined);
    });
    await untilReplies(replies, ids(10));
    assert.deepEqual(
      [1, 2, 4, 5, 7, 9].map((id) => oldOf(replies.get(id))),
      [undefined, 'v1', 'v2', 'v2', 'v4', undefined],
    );
    assert.equal(replies.get(4)!.status, ST_MISSING, 'NX on a present key writes nothing');
    assert.equal(replies.get(7)!.status, ST_DONE);
    assert.equal(expiryOf(replies.get(3)), a, 'KEEPTTL keeps the expiry of the write in flight');
    assert.equal(expiryOf(replies.get(6)), a + 2000);
    assert.equal(replies.get(8)!.status, ST_MISSING, 'a time past deletes the key');
    assert.equal(expiryOf(replies.get(10)), 0, 'KEEPTTL on a missing key: no expiry');
  });

  it('matches a model of random EXPIRE conditions and SET GET expiries in one batch (seeded)', async () => {
    const seed = testSeed();
    const r = seededRandom(seed);
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const base = Date.now() + 3_600_000;
    // Times far from now, so none passes during the run, and a few already past.
    const times = [base, base + 1000, base + 2000, base - 1000, 1, -1];
    const conds = [
      0,
      EXPIRE_NX,
      EXPIRE_XX,
      EXPIRE_GT,
      EXPIRE_LT,
      EXPIRE_XX | EXPIRE_GT,
      EXPIRE_XX | EXPIRE_LT,
    ];
    const keys = ['a', 'b', 'c'];
    const model = new Map<string, { value: string; exp: number }>();
    const expected = new Map<number, string>();
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const past = (t: number): boolean => t <= Date.now();
    let id = 0;
    runOps(host, (w) => {
      for (let i = 0; i < 400; i++) {
        const k = pick(keys);
        const cur = model.get(k);
        const u = r();
        id++;
        if (u < 0.2) {
          const t = r() < 0.5 ? 0 : pick(times.slice(0, 4));
          w.add(id, OP_PUT_EXT, 0, k, putExpiring(`v${id}`, t));
          model.set(k, { value: `v${id}`, exp: t });
          expected.set(id, 'done');
        } else if (u < 0.7) {
          const cond = pick(conds);
          const t = pick(times);
          w.add(id, OP_EDIT, 0, k, expireEdit(cond, t));
          const holds = cur !== undefined && expiryConditionModel(cond, cur.exp, t);
          expected.set(id, holds ? '1' : '0');
          if (holds && past(t)) model.delete(k);
          else if (holds) model.set(k, { value: cur.value, exp: t });
        } else {
          const nx = r() < 0.2;
          const keep = r() < 0.3;
          const t = keep ? 0 : pick(times);
          w.add(
            id,
            OP_SET_IF,
            0,
            k,
            encodeSetIf((nx ? SET_IF_NX : 0) | (keep ? SET_IF_KEEP_TTL : 0), Buffer.from(`s${id}`), t),
          );
          expected.set(id, `old ${cur?.value ?? 'nil'}`);
          if (!(nx && cur !== undefined)) {
            const exp = keep ? (cur?.exp ?? 0) : t;
            if (exp !== 0 && past(exp)) model.delete(k);
            else model.set(k, { value: `s${id}`, exp });
          }
        }
      }
      for (const [j, k] of keys.entries()) w.add(1000 + j, OP_GET_EXPIRY, 0, k, undefined);
    });
    await untilReplies(replies, [...expected.keys(), 1000, 1001, 1002]);
    const got = (n: number): string => {
      const reply = replies.get(n)!;
      const e = expected.get(n)!;
      if (e === 'done') return reply.status === ST_DONE ? 'done' : `status ${reply.status}`;
      if (e.startsWith('old ')) return `old ${oldOf(reply) ?? 'nil'}`;
      return reply.value.toString();
    };
    for (const n of expected.keys())
      assert.equal(got(n), expected.get(n), `op ${n}; seed ${seed} (DISTKV_SEED=${seed})`);
    keys.forEach((k, j) => {
      const m = model.get(k);
      assert.equal(
        replies.get(1000 + j)!.status === ST_MISSING ? 'missing' : expiryOf(replies.get(1000 + j)),
        m === undefined ? 'missing' : m.exp,
        `key ${k}; seed ${seed} (DISTKV_SEED=${seed})`,
      );
    });
  });
});

/** expiryConditionModel is Redis 7's check written out as its source reads, the model's own. */
function expiryConditionModel(cond: number, current: number, when: number): boolean {
  const ttl = current === 0 ? -1 : current;
  if (cond & EXPIRE_NX && ttl !== -1) return false;
  if (cond & EXPIRE_XX && ttl === -1) return false;
  if (cond & EXPIRE_GT && (when <= ttl || ttl === -1)) return false;
  if (cond & EXPIRE_LT && ttl !== -1 && when >= ttl) return false;
  return true;
}
