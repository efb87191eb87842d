/**
 * Every key op of the worker against a model (CONVENTIONS habit 10): random batches of PUT, DELETE,
 * INCR, SET NX/XX, counted DELETE, APPEND, GET, GET of the expiry, EXPIRE and PERSIST, writes conditioned on the key's version (If-Match
 * with a seq learnt from an earlier reply, If-None-Match, If-Exists, keep-TTL), conditional
 * deletes and two-key transactions, over a few keys, cut into batches that mostly follow each other
 * with their writes still in flight. Some writes carry a TTL of a few milliseconds, so the reaper
 * logs expiries in the middle of the run, racing the puts that renew those keys; the model cannot
 * tell the instant a key expires, so it predicts nothing about a key whose newest write is one of
 * those until a blind write replaces it or its expiry has passed (then it is missing, and every
 * op, conditional ones included, races the reaper's expire record). Each reply and the final state of every key are compared
 * with the model (a Map of each key's value, the op that wrote it and the kind of its TTL); the
 * seed is printed on failure (DISTKV_SEED replays it).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  COND_IF_EXISTS,
  COND_IF_MATCH,
  COND_IF_NONE_MATCH,
  EDIT_APPEND,
  encodeEdit,
  encodeExt,
  encodeTxn,
  EXT_KEEP_TTL,
  EXT_KEEP_VALUE,
  COND_EXPIRES,
  OP_DELETE,
  OP_DELETE_COUNTED,
  OP_DELETE_EXT,
  OP_EDIT,
  OP_GET,
  OP_GET_EXPIRY,
  OP_INCR,
  OP_PUT,
  OP_PUT_EXT,
  OP_SET_IF,
  OP_TXN,
  SET_IF_NX,
  SET_IF_XX,
  ST_CONFLICT,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
  ST_VALUE,
  type TxnSub,
} from '../../src/worker/op-format.js';
import { encodeOld, incremented } from '../../src/worker/read-modify-write.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openTestHost, runOps, untilReplies } from '../helpers/worker-host.js';

/** Ttl is the kind of a write's expiry: none, one far beyond the test, or one due within it. */
type Ttl = 'none' | 'long' | 'short';

/** KeyState is the model of one key: its value (undefined = missing), the op that wrote it, its TTL's kind. */
interface KeyState {
  value: string | undefined;
  ver: string;
  ttl: Ttl;
  /** exp is its expiry (epoch ms, 0 = none): exact for a long TTL. */
  exp: number;
}

/** Expect is what an op's reply must be: its status and, when given, its value's bytes. */
interface Expect {
  status: number;
  value?: Buffer;
  /**
   * orStatus is the other status a put with a short TTL may get: its expiry may be past when the
   * worker applies it, and then it is written as a delete and answered ST_MISSING (op-format.ts).
   */
  orStatus?: number;
}

const KEYS = ['a', 'b', 'c', 'd'];
const LONG_MS = 10 * 60_000;

describe('the worker key ops against a model', () => {
  it('answers and keeps every key as the model does, expiries racing renewals included', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const { host, replies, answeredTwice } = await openTestHost(tempDir(after));
    after(() => host.close());
    const model = new Map<string, KeyState>(
      KEYS.map((k) => [k, { value: undefined, ver: '', ttl: 'none', exp: 0 }]),
    );
    const expected = new Map<number, Expect>();
    /** writers names, by op id, the writes whose version (seq) becomes known from their reply. */
    const writers = new Map<number, string>();
    const seqOf = new Map<string, number>();
    let id = 0;
    let lastShortAt = 0;

    const expiryOf = (ttl: Ttl): number => {
      if (ttl === 'none') return 0;
      if (ttl === 'long') return Date.now() + LONG_MS;
      lastShortAt = Date.now() + 2 + Math.floor(rnd() * 30);
      return lastShortAt;
    };
    const write = (
      key: string,
      value: string | undefined,
      ttl: Ttl,
      status = ST_DONE,
      reply?: Buffer,
      exp = 0,
    ): void => {
      model.set(key, { value, ver: `op${id}`, ttl, exp });
      writers.set(id, `op${id}`);
      const or = ttl === 'short' ? { orStatus: ST_MISSING } : {};
      expected.set(id, reply === undefined ? { status, ...or } : { status, value: reply, ...or });
    };
    /** ifMatchSeq is a seq to condition a write on key `s`: its own version's when known (often), else another's. */
    const ifMatchSeq = (s: KeyState): { seq: number; holds: boolean } => {
      const own = seqOf.get(s.ver);
      if (own !== undefined && s.value !== undefined && rnd() < 0.6) return { seq: own, holds: true };
      const others = [...seqOf].filter(([ver]) => ver !== s.ver);
      if (others.length === 0) return { seq: 1e9, holds: false };
      return { seq: pick(others)[1], holds: false };
    };

    for (let round = 0; round < 120; round++) {
      runOps(host, (w) => {
        const n = 1 + Math.floor(rnd() * 10);
        for (let i = 0; i < n; i++) {
          const key = pick(KEYS);
          let s = model.get(key)!;
          // A short TTL already past is a missing key for every op from now on (the worker's
          // clock reads later still), whether or not the reaper has logged its expiry yet: the
          // ops below then race that expire record (SET NX, If-None-Match, INCR from 0...).
          if (s.ttl === 'short' && Date.now() > s.exp) {
            s = { value: undefined, ver: s.ver, ttl: 'none', exp: 0 };
            model.set(key, s);
          }
          const v = String(Math.floor(rnd() * 1000));
          const r = rnd();
          id++;
          if (s.ttl === 'short') {
            // Expiring now or soon: only blind writes, whose outcome does not depend on when.
            const ttl = pick<Ttl>(['none', 'long', 'short']);
            if (r < 0.4) {
              w.add(id, OP_PUT, 0, key, v);
              write(key, v, 'none');
            } else if (r < 0.8) {
              const exp = expiryOf(ttl);
              w.add(id, OP_PUT_EXT, 0, key, encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: exp }, v));
              write(key, v, ttl, ST_DONE, undefined, exp);
            } else {
              w.add(id, OP_DELETE, 0, key, undefined);
              model.set(key, { value: undefined, ver: `op${id}`, ttl: 'none', exp: 0 });
            }
            continue;
          }
          const has = s.value !== undefined;
          const old = s.value === undefined ? undefined : Buffer.from(s.value);
          if (r < 0.12) {
            w.add(id, OP_PUT, 0, key, v);
            write(key, v, 'none');
          } else if (r < 0.22) {
            const ttl = pick<Ttl>(['long', 'short', 'short']);
            const exp = expiryOf(ttl);
            w.add(id, OP_PUT_EXT, 0, key, encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: exp }, v));
            write(key, v, ttl, ST_DONE, undefined, exp);
          } else if (r < 0.3) {
            w.add(id, OP_DELETE, 0, key, undefined);
            write(key, undefined, 'none', has ? ST_DONE : ST_MISSING);
          } else if (r < 0.38) {
            w.add(id, OP_INCR, 0, key, '3');
            let next: Buffer | undefined;
            try {
              next = incremented(old, Buffer.from('3'));
            } catch {
              expected.set(id, { status: ST_ERROR });
            }
            if (next !== undefined) write(key, next.toString(), s.ttl, ST_DONE, next, s.exp);
          } else if (r < 0.44) {
            const nx = rnd() < 0.5;
            w.add(
              id,
              OP_SET_IF,
              0,
              key,
              Buffer.concat([Buffer.of(nx ? SET_IF_NX : SET_IF_XX), Buffer.from(v)]),
            );
            if (nx !== has) write(key, v, 'none', ST_DONE, encodeOld(old));
            else expected.set(id, { status: ST_MISSING, value: encodeOld(old) });
          } else if (r < 0.5) {
            w.add(id, OP_DELETE_COUNTED, 0, key, Buffer.alloc(0));
            if (has) write(key, undefined, 'none', ST_DONE, encodeOld(old));
            else expected.set(id, { status: ST_DONE, value: encodeOld(old) });
          } else if (r < 0.56) {
            const digit = String(Math.floor(rnd() * 10));
            w.add(
              id,
              OP_EDIT,
              0,
              key,
              encodeEdit({ kind: EDIT_APPEND, limit: 1 << 20, atMs: 0, arg: Buffer.from(digit) }),
            );
            const next = (s.value ?? '') + digit;
            write(key, next, s.ttl, ST_DONE, Buffer.from(String(next.length)), s.exp);
          } else if (r < 0.66) {
            const { seq, holds } = ifMatchSeq(s);
            w.add(id, OP_PUT_EXT, 0, key, encodeExt({ flags: COND_IF_MATCH, ifSeq: seq, expiresAtMs: 0 }, v));
            if (holds) write(key, v, 'none');
            else expected.set(id, { status: ST_CONFLICT });
          } else if (r < 0.7) {
            const { seq, holds } = ifMatchSeq(s);
            w.add(id, OP_DELETE_EXT, 0, key, encodeExt({ flags: COND_IF_MATCH, ifSeq: seq, expiresAtMs: 0 }));
            if (holds) write(key, undefined, 'none');
            else expected.set(id, { status: ST_CONFLICT });
          } else if (r < 0.75) {
            w.add(
              id,
              OP_PUT_EXT,
              0,
              key,
              encodeExt({ flags: COND_IF_NONE_MATCH, ifSeq: 0, expiresAtMs: 0 }, v),
            );
            if (!has) write(key, v, 'none');
            else expected.set(id, { status: ST_CONFLICT });
          } else if (r < 0.8) {
            // SET KEEPTTL: the value changes, the expiry stays (a missing key gets none).
            const flags = EXT_KEEP_TTL | (rnd() < 0.5 ? COND_IF_EXISTS : 0);
            w.add(id, OP_PUT_EXT, 0, key, encodeExt({ flags, ifSeq: 0, expiresAtMs: 0 }, v));
            if (flags & COND_IF_EXISTS && !has) expected.set(id, { status: ST_CONFLICT });
            else write(key, v, has ? s.ttl : 'none', ST_DONE, undefined, has ? s.exp : 0);
          } else if (r < 0.88) {
            const other = pick(KEYS.filter((k) => k !== key));
            const t = model.get(other)!;
            if (t.ttl === 'short') {
              w.add(id, OP_GET, 0, key, undefined);
              expected.set(id, has ? { status: ST_VALUE, value: old! } : { status: ST_MISSING });
              continue;
            }
            const conds = [s, t].map((st) => {
              if (rnd() < 0.5) {
                const m = ifMatchSeq(st);
                return { flags: COND_IF_MATCH, ifSeq: m.seq, holds: m.holds };
              }
              return { flags: COND_IF_NONE_MATCH, ifSeq: 0, holds: st.value === undefined };
            });
            const vals = [v, `${v}x`];
            const subs: TxnSub[] = [key, other].map((k, j) => ({
              op: OP_PUT_EXT,
              key: Buffer.from(k),
              value: encodeExt({ flags: conds[j]!.flags, ifSeq: conds[j]!.ifSeq, expiresAtMs: 0 }, vals[j]),
            }));
            w.add(id, OP_TXN, 0, '', encodeTxn(subs));
            if (conds.every((c) => c.holds)) {
              // Versions of a transaction's writes are not learnt: the reply carries only the last seq.
              model.set(key, { value: vals[0], ver: `txn${id}.0`, ttl: 'none', exp: 0 });
              model.set(other, { value: vals[1], ver: `txn${id}.1`, ttl: 'none', exp: 0 });
              expected.set(id, { status: ST_DONE });
            } else expected.set(id, { status: ST_CONFLICT });
          } else if (r < 0.91) {
            w.add(id, OP_GET_EXPIRY, 0, key, undefined);
            const f64 = Buffer.alloc(8);
            f64.writeDoubleLE(s.exp, 0);
            expected.set(id, has ? { status: ST_VALUE, value: f64 } : { status: ST_MISSING });
          } else if (r < 0.94) {
            // EXPIRE: the value stays, the expiry is set.
            const exp = expiryOf('long');
            const flags = COND_IF_EXISTS | EXT_KEEP_VALUE;
            w.add(id, OP_PUT_EXT, 0, key, encodeExt({ flags, ifSeq: 0, expiresAtMs: exp }));
            if (has) write(key, s.value, 'long', ST_DONE, undefined, exp);
            else expected.set(id, { status: ST_CONFLICT });
          } else if (r < 0.96) {
            // PERSIST: the value stays, the expiry goes, if it had one.
            const flags = COND_EXPIRES | EXT_KEEP_VALUE;
            w.add(id, OP_PUT_EXT, 0, key, encodeExt({ flags, ifSeq: 0, expiresAtMs: 0 }));
            if (has && s.exp > 0) write(key, s.value, 'none');
            else expected.set(id, { status: ST_CONFLICT });
          } else {
            w.add(id, OP_GET, 0, key, undefined);
            expected.set(id, has ? { status: ST_VALUE, value: old! } : { status: ST_MISSING });
          }
        }
      });
      const pause = rnd();
      if (pause < 0.3) {
        await untilReplies(replies, [...expected.keys()]);
        for (const [op, ver] of writers) {
          const got = replies.get(op);
          if (got?.status === ST_DONE || got?.status === ST_MISSING) seqOf.set(ver, got.seq);
        }
      } else if (pause < 0.5) await new Promise((res) => setTimeout(res, Math.floor(rnd() * 20)));
    }
    await untilReplies(replies, [...expected.keys()]);
    assert.deepEqual(answeredTwice, [], `ops answered twice (seed ${seed})`);
    for (const [op, want] of expected) {
      const got = replies.get(op)!;
      const detail = `op ${op} (seed ${seed}): ${got.status === ST_ERROR ? got.value.toString() : ''}`;
      if (want.orStatus === undefined || got.status !== want.orStatus)
        assert.equal(got.status, want.status, `status of ${detail}`);
      if (want.value !== undefined) assert.deepEqual(got.value, want.value, `value of ${detail}`);
    }
    // Past every short expiry (and the reaper's turn for it), each key holds its newest write.
    await new Promise((res) => setTimeout(res, Math.max(0, lastShortAt - Date.now()) + 50));
    const base = id + 1;
    runOps(host, (w) => {
      KEYS.forEach((k, i) => {
        w.add(base + i, OP_GET, 0, k, undefined);
      });
    });
    await untilReplies(
      replies,
      KEYS.map((_, i) => base + i),
    );
    KEYS.forEach((k, i) => {
      const got = replies.get(base + i)!;
      const s = model.get(k)!;
      const want = s.ttl === 'short' ? undefined : s.value;
      assert.equal(
        got.status === ST_VALUE ? got.value.toString() : undefined,
        want,
        `${k} at the end, written by ${s.ver} (seed ${seed})`,
      );
    });
  });
});
